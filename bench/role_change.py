"""Role change: the office adds a permission to one role, then takes one away, at
500 member libraries and 20,000 people on PostgreSQL; the grants of everyone holding the
role are rebuilt.

    DATABASE_URL=postgres://concord:concord@127.0.0.1:5432/concord \
        .venv/bin/python bench/role_change.py [--libraries 500] [--people 20000]

It creates a scratch PostgreSQL database next to DATABASE_URL's (dropped at the end),
migrates it and seeds in bulk a consortium of systems with branches (one director per
library, everyone else staff, a communications officer at each system), resolves their
grants once, then times, with the SQL queries counted:

- the rebuild alone (``grants.rebuild_role_grants``), as the worker runs it;
- the office's whole edit (``role_services.do_edit_role``: checks, the role saved, the
  audit entry, the rebuild), done in one transaction;

once for a permission added to staff and once for one taken away, and checks that the
grants are exactly what the roles say afterwards. Target: under 10 s, and the same number
of queries at any size (``--libraries 50 --people 2000`` to compare).
"""

from __future__ import annotations

import argparse
import os
import time

from _support import scratch_django

ADDED = "patron_notices.view_patrons"  # staff do not have it by default
REMOVED = "policies.view_policies"  # staff have it, and so do directors


def seed(libraries: int, people: int) -> tuple[object, int]:
    """Consortium → systems of nine branches; returns the office's account and how many
    libraries there are. People are written in bulk, their grants resolved once."""
    from django.contrib.auth import get_user_model

    from portal.members.grants import sync_grants
    from portal.members.models import MemberLibrary, Membership
    from portal.members.roles import COMMUNICATIONS, CONSORTIUM_ADMIN, DIRECTOR, STAFF

    Kind = MemberLibrary.Kind
    User = get_user_model()
    root = MemberLibrary.add_root(name="Bench Consortium", code="bench", kind=Kind.CONSORTIUM)
    per_system = 10  # the system itself and nine branches
    systems = max(1, libraries // per_system)
    rows = []
    for s in range(systems):
        path = MemberLibrary._get_path(root.path, 2, s + 1)
        rows.append(
            MemberLibrary(
                path=path,
                depth=2,
                numchild=per_system - 1,
                name=f"System {s:03d}",
                code=f"s{s:03d}",
                kind=Kind.SYSTEM,
            )
        )
        for b in range(per_system - 1):
            rows.append(
                MemberLibrary(
                    path=MemberLibrary._get_path(path, 3, b + 1),
                    depth=3,
                    numchild=0,
                    name=f"Branch {s:03d}-{b}",
                    code=f"s{s:03d}b{b}",
                    kind=Kind.BRANCH,
                )
            )
    MemberLibrary.objects.bulk_create(rows, batch_size=2000)
    MemberLibrary.objects.filter(pk=root.pk).update(numchild=systems)
    libs = list(MemberLibrary.objects.exclude(pk=root.pk).order_by("path"))

    users = User.objects.bulk_create(
        [User(email=f"p{n}@bench.example.org", full_name=f"Person {n}") for n in range(people)],
        batch_size=5000,
    )
    office = User.objects.create(email="office@bench.example.org", full_name="Office")
    memberships = [Membership(user=office, library=root, role=CONSORTIUM_ADMIN)]
    for n, user in enumerate(users):
        library = libs[n % len(libs)]
        if n < len(libs):
            role = DIRECTOR
        elif n < 2 * len(libs) and library.kind == Kind.SYSTEM:
            role = COMMUNICATIONS
        else:
            role = STAFF
        memberships.append(Membership(user=user, library=library, role=role))
    Membership.objects.bulk_create(memberships, batch_size=5000)
    sync_grants([u.pk for u in users])
    return office, len(libs)


def expected_grants(perm: str) -> int:
    """The rows ``perm`` should have, counted from the roles and the tree in SQL."""
    from django.db import connection

    from portal.members.models import MemberLibrary, Membership, Role

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT COUNT(*) FROM (
              SELECT DISTINCT m.user_id, lib.id
              FROM {Membership._meta.db_table} m
              JOIN {Role._meta.db_table} r ON r.code = m.role
              JOIN {Role.permissions.through._meta.db_table} rp ON rp.role_id = r.id
              JOIN auth_permission p ON p.id = rp.permission_id AND p.codename = %s
              JOIN {MemberLibrary._meta.db_table} held ON held.id = m.library_id
              JOIN {MemberLibrary._meta.db_table} lib ON lib.path LIKE held.path || '%%'
              WHERE m.role <> 'consortium_admin'
            ) AS wanted
            """,  # noqa: S608 - table names from the models
            [perm],
        )
        return cursor.fetchone()[0]


def timed(label: str, fn, check) -> None:
    """Run ``fn`` and print its time and SQL queries, then what ``check`` found after."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        fn()
        seconds = time.perf_counter() - started
    verdict = "PASS" if seconds < 10 else "FAIL"
    print(f"  {label}: {seconds:.2f} s, {len(queries)} queries ({verdict}); {check()}")
    if os.environ.get("BENCH_SHOW_QUERIES"):
        for query in queries:
            print("    ", " ".join(query["sql"].split())[:160])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--libraries", type=int, default=500)
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    with scratch_django(keep=args.keep):
        from django.conf import settings
        from django.db import connection, transaction

        from portal.members import grants, role_services
        from portal.members.models import MemberLibraryUserObjectPermission, Membership, Role
        from portal.members.roles import STAFF

        started = time.perf_counter()
        office, libraries = seed(args.libraries, args.people)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        total = MemberLibraryUserObjectPermission.objects.count()
        holders = Membership.objects.filter(role=STAFF).count()
        print(
            f"Seeded {libraries} libraries, {args.people} people ({holders} staff), "
            f"{total} grants in {time.perf_counter() - started:.1f} s"
        )
        perm_ids = grants.ensure_permissions()
        staff = Role.objects.get(code=STAFF)

        def check(perm):
            def counted():
                got = MemberLibraryUserObjectPermission.objects.filter(
                    permission__codename=perm
                ).count()
                want = expected_grants(perm)
                assert got == want, f"{perm}: {got} grants, the roles say {want}"
                return f"{perm}: {got} grants, as the roles say"

            return counted

        # The rebuild alone, as the worker runs it: the role changed, its grants follow.
        print(f"Rebuild alone (grants.rebuild_role_grants), {holders} holders:")
        rebuild = lambda: grants.rebuild_role_grants(STAFF, {perm_ids[ADDED]})  # noqa: E731
        staff.permissions.add(perm_ids[ADDED])
        timed(f"{ADDED} added to staff", rebuild, check(ADDED))
        staff.permissions.remove(perm_ids[ADDED])
        timed(f"{ADDED} taken away again", rebuild, check(ADDED))

        # The office's whole edit, rebuilt in the same transaction.
        settings.CONCORD_INLINE_REBUILD_HOLDERS = 10**9
        print("The office's edit (role_services.do_edit_role, rebuilt inline):")

        def edit(change):
            def run():
                shape = role_services.RoleShape.of(Role.objects.get(code=STAFF))
                change(shape.permissions)
                with transaction.atomic():
                    role_services.do_edit_role(office, Role.objects.get(code=STAFF), shape)

            return run

        timed(f"{ADDED} added", edit(lambda p: p.add(ADDED)), check(ADDED))
        timed(f"{REMOVED} taken away", edit(lambda p: p.discard(REMOVED)), check(REMOVED))
        print(f"  grants now: {MemberLibraryUserObjectPermission.objects.count()}")


if __name__ == "__main__":
    main()
