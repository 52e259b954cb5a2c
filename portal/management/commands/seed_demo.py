"""``manage.py seed_demo``: a believable consortium to click through, at any size.

The tree is built in memory and written with ``bulk_create`` (treebeard paths computed
here, in name order), people likewise, then the role grants are resolved in
one ``sync_grants`` call. Each plugin adds its own demo data through
``PluginMeta.demo_seeder``, with the options it declares in ``PluginMeta.demo_options``
(``--patrons``); the core never names a plugin. ``--reset`` calls each plugin's
``PluginMeta.demo_reset`` before deleting the libraries, so a plugin can remove rows that
protect them (ballots) and pages that would otherwise be seeded twice.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.utils.module_loading import import_string
from django.utils.text import slugify

from portal.celery import app as celery_app
from portal.db import refresh_statistics
from portal.demo import (
    BRANCHES_OF_ACADEMIC,
    COMMUNICATIONS_EMAIL,
    CONSORTIUM_NAME,
    COUNTIES,
    DEMO_DOMAIN,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    DEPUTY_EMAIL,
    FIRST_NAMES,
    LAST_NAMES,
    OFFICE_EMAIL,
    PALETTE,
    REGIONS,
    STREETS,
    SURNAMES,
    TOWNS,
    TRAINING_EMAIL,
    example_logins,
)
from portal.members.grants import ensure_permissions, sync_grants
from portal.members.models import (
    MemberLibrary,
    MemberLibraryUserObjectPermission,
    Membership,
    Role,
)
from portal.members.office import sync_office_group
from portal.members.roles import (
    COMMUNICATIONS,
    CONSORTIUM_ADMIN,
    DIRECTOR,
    STAFF,
    TRAINER,
    definitions,
    forget_definitions,
)
from portal.plugins import available_plugins
from portal.signals import memberships_rebuilt

Kind = MemberLibrary.Kind
Type = MemberLibrary.LibraryType

# The demo's one role of the consortium's own making, beside the five built-in ones.
ILS_COORDINATOR = "ils_coordinator"
ILS_COORDINATOR_PERMISSIONS = (
    "portal.view_library",
    "patron_notices.view_patrons",
    "patron_notices.import_patrons",
)


class Node:
    """A library to be created; paths and counts are filled in once the tree is complete."""

    def __init__(self, name, kind, library_type, parent=None, town="", size=1.0):
        self.name = name
        self.kind = kind
        self.library_type = library_type
        self.parent = parent
        self.children: list[Node] = []
        self.town = town
        self.size = size
        self.code = ""
        if parent is not None:
            parent.children.append(self)


class Command(BaseCommand):
    help = (
        "Create a demo consortium: member libraries of every type, people in every role "
        "(password 'concord-demo', TOTP via `manage.py demo_totp`), and each plugin's "
        "demo data. Refuses a database that already has libraries unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--libraries",
            type=int,
            default=40,
            help="Libraries and branches to create (library systems come on top, "
            "one per twenty). Default 40.",
        )
        parser.add_argument("--staff-per-library", type=int, default=3)
        # Each plugin's own options (--patrons), read by its seeder.
        for plugin in available_plugins():
            for option in plugin.meta.demo_options:
                parser.add_argument(
                    option.flag, type=option.type, default=option.default, help=str(option.help)
                )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete every member library and every @example.org account first.",
        )
        parser.add_argument("--seed", type=int, default=2024, help="Random seed.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            # Known passwords and a shared TOTP secret have no place on a real site.
            raise CommandError("seed_demo only runs with DEBUG on: it creates known logins.")
        counts = [options["staff_per_library"], *(v for v in self.plugin_options(options))]
        if options["libraries"] < 1 or any(isinstance(n, int) and n < 0 for n in counts):
            raise CommandError("--libraries must be at least 1; counts cannot be negative.")
        self.timings: list[tuple[str, float]] = []
        self.rng = random.Random(options["seed"])
        self.verbosity = options["verbosity"]
        started = time.perf_counter()
        # The demo is seeded before any worker or broker runs (bin/demo starts them
        # afterwards): tasks the plugins queue on commit run here, in this process.
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            libraries, user_ids, plugin_counts = self.seed(options)
        finally:
            celery_app.conf.task_always_eager = eager
        self.timings.append(("total", time.perf_counter() - started))
        self.summary(libraries, user_ids, plugin_counts)

    def seed(self, options):
        with transaction.atomic():
            if MemberLibrary.objects.exists():
                if not options["reset"]:
                    raise CommandError(
                        "The database already has member libraries. Run with --reset to "
                        "delete them (and every @example.org account) and seed again."
                    )
                with self.phase("wipe"):
                    self.wipe()
            elif options["reset"]:
                with self.phase("wipe"):
                    self.wipe()
            with self.phase("libraries"):
                libraries = self.create_libraries(options["libraries"])
            with self.phase("people"):
                self.create_roles()
                user_ids = self.create_people(libraries, options["staff_per_library"])
            with self.phase("grants"):
                sync_grants(user_ids)
                # Before the plugins' rebuilds query them (80 s a query on old statistics).
                refresh_statistics(
                    MemberLibrary, get_user_model(), Membership, MemberLibraryUserObjectPermission
                )
                memberships_rebuilt.send(sender=self.__class__, user_ids=user_ids)
            plugin_counts: dict[str, int] = {}
            for plugin in available_plugins():
                if not plugin.meta.demo_seeder:
                    continue
                seeder = import_string(plugin.meta.demo_seeder)
                with self.phase(f"plugin {plugin.label}"):
                    counts = seeder(libraries, {**options, "stdout": self.stdout})
                plugin_counts.update(counts or {})
            committing = time.perf_counter()
        # PostgreSQL checks the deferred foreign keys of every row here.
        self.timings.append(("commit", time.perf_counter() - committing))
        return libraries, user_ids, plugin_counts

    @staticmethod
    def plugin_options(options) -> list:
        return [
            options.get(option.dest)
            for plugin in available_plugins()
            for option in plugin.meta.demo_options
        ]

    @contextmanager
    def phase(self, name: str):
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.timings.append((name, seconds))
        if self.verbosity >= 2:
            self.stdout.write(f"  {name}: {seconds:.2f} s")

    def wipe(self) -> None:
        for plugin in available_plugins():
            if plugin.meta.demo_reset:
                import_string(plugin.meta.demo_reset)()
        demo_users = get_user_model().objects.filter(email__iendswith=f"@{DEMO_DOMAIN}")
        memberships = Membership.objects.filter(Q(user__in=demo_users) | Q(library__isnull=False))
        if not Membership._meta.related_objects:
            # Each membership's delete signal re-syncs that person's grants, one by one: a
            # minute for a big demo. Everyone affected is deleted next, so skip the signals.
            memberships._raw_delete(memberships.db)
        demo_users.delete()
        MemberLibrary.objects.all().delete()

    # Libraries ---------------------------------------------------------------------------

    def plan_tree(self, count: int) -> Node:
        """The consortium in memory: systems with branches, and standalone members."""
        rng = self.rng
        root = Node(CONSORTIUM_NAME, Kind.CONSORTIUM, Type.PUBLIC)
        root.code = "ovlc"
        names: set[str] = {root.name}
        towns = TOWNS[:]
        rng.shuffle(towns)
        town_iter = iter(towns * (count // len(towns) + 2))

        def unique(name: str) -> str:
            candidate, n = name, 2
            while candidate in names:
                candidate = f"{name} ({n})"
                n += 1
            names.add(candidate)
            return candidate

        systems = max(1, count // 20) if count >= 4 else 0
        branches = round(count * 0.45) if systems else 0
        standalone = count - branches
        # One system in five is a university with its branch libraries.
        for i in range(systems):
            share = branches // systems + (1 if i < branches % systems else 0)
            if i % 5 == 1:
                university = f"{rng.choice(REGIONS)} University"
                system = Node(
                    unique(f"{university} Libraries"), Kind.SYSTEM, Type.ACADEMIC, root, size=2
                )
                for j in range(share):
                    town = "" if j < len(BRANCHES_OF_ACADEMIC) else next(town_iter)
                    label = BRANCHES_OF_ACADEMIC[j] if not town else f"{town} Campus Library"
                    Node(
                        unique(f"{system.name} — {label}"),
                        Kind.BRANCH,
                        Type.ACADEMIC,
                        system,
                        town=town,
                    )
            else:
                if i % 2:
                    region = f"{rng.choice(COUNTIES)} County"
                    system_name = f"{region} District Library"
                else:
                    region = rng.choice(REGIONS)
                    system_name = f"{region} Library System"
                system = Node(unique(system_name), Kind.SYSTEM, Type.PUBLIC, root, size=3)
                for _ in range(share):
                    town = next(town_iter)
                    Node(
                        unique(f"{system.name} — {town} Branch"),
                        Kind.BRANCH,
                        Type.PUBLIC,
                        system,
                        town=town,
                        size=rng.choice((0.5, 1, 1, 2)),
                    )
        for _ in range(standalone):
            town = next(town_iter)
            library_type, name, size = self.standalone_name(town)
            Node(unique(name), Kind.LIBRARY, library_type, root, town=town, size=size)
        self.assign_codes(root)
        return root

    def standalone_name(self, town: str) -> tuple[str, str, float]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            county = rng.choice(COUNTIES)
            return (
                Type.PUBLIC,
                rng.choice(
                    [
                        f"{town} Public Library",
                        f"{county} County Public Library",
                        f"{town} Community Library",
                        f"{town} Carnegie Library",
                        f"{town} Memorial Library",
                    ]
                ),
                rng.choice((1, 1.5, 2, 3)),
            )
        if roll < 0.72:
            return (
                Type.ACADEMIC,
                rng.choice(
                    [
                        f"{town} Community College Library",
                        f"{rng.choice(SURNAMES)} College Library",
                        f"{town} State University Library",
                        f"{town} Technical College Learning Commons",
                    ]
                ),
                1.5,
            )
        if roll < 0.9:
            return (
                Type.SCHOOL,
                rng.choice(
                    [
                        f"{town} City Schools Library",
                        f"{town} Local Schools Media Center",
                        f"{town} High School Library",
                    ]
                ),
                0.5,
            )
        county = rng.choice(COUNTIES)
        return (
            Type.SPECIAL,
            rng.choice(
                [
                    f"{county} County Law Library",
                    f"{town} Historical Society Research Library",
                    f"{town} Medical Center Health Sciences Library",
                    f"{town} Museum of Art Library",
                ]
            ),
            0.3,
        )

    def assign_codes(self, root: Node) -> None:
        used = {root.code}

        def claim(code: str) -> str:
            code = code[:28].strip("-")
            candidate, n = code, 2
            while candidate in used:
                candidate = f"{code}{n}"
                n += 1
            used.add(candidate)
            return candidate

        def initials(name: str) -> str:
            skip = {"of", "the", "and", "—"}
            words = [w for w in name.replace(",", " ").split() if w.lower() not in skip]
            return "".join(w[0] for w in words if w[0].isalnum()).lower()

        for node in root.children:
            if node.kind == Kind.SYSTEM:
                node.code = claim(initials(node.name))
                for branch in node.children:
                    tail = branch.town or branch.name.split(" — ")[-1]
                    branch.code = claim(f"{node.code}-{slugify(tail)[:16]}")
            elif node.town and node.town in node.name:
                rest = initials(node.name.replace(node.town, ""))
                node.code = claim(f"{slugify(node.town)[:16]}-{rest}")
            else:
                node.code = claim(initials(node.name))

    def create_libraries(self, count: int) -> list[MemberLibrary]:
        """Write the planned tree with computed treebeard paths; returns every node."""
        root = self.plan_tree(count)
        rows: list[MemberLibrary] = []

        def place(node: Node, path: str, depth: int) -> None:
            rng = self.rng
            primary, secondary = rng.choice(PALETTE)
            domain = f"{node.code}.{DEMO_DOMAIN}"
            town = node.town or (node.parent.town if node.parent else "") or "Athens"
            children = sorted(node.children, key=lambda child: child.name)
            rows.append(
                MemberLibrary(
                    path=path,
                    depth=depth,
                    numchild=len(children),
                    name=node.name,
                    code=node.code,
                    kind=node.kind,
                    library_type=node.library_type,
                    vote_weight=self.vote_weight(node),
                    shares_catalogue=node.kind != Kind.CONSORTIUM and rng.random() < 0.7,
                    primary_colour=primary,
                    secondary_colour=secondary,
                    reply_to=f"info@{domain}",
                    website=f"https://{domain}/",
                    address=f"{rng.randint(10, 999)} {rng.choice(STREETS)} Street\n"
                    f"{town}, OH 4{rng.randint(3000, 5999)}",
                    phone=f"(740) 555-01{rng.randint(0, 99):02d}",
                    contact_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    contact_email=f"director.{node.code}@{DEMO_DOMAIN}",
                )
            )
            # Children in name order, so the tree lists alphabetically.
            for position, child in enumerate(children, start=1):
                place(child, MemberLibrary._get_path(path, depth + 1, position), depth + 1)

        place(root, MemberLibrary._get_path(None, 1, 1), 1)
        return MemberLibrary.objects.bulk_create(rows, batch_size=1000)

    @staticmethod
    def vote_weight(node: Node) -> Decimal:
        if node.kind == Kind.CONSORTIUM:
            return Decimal(0)
        return Decimal(str(node.size)).quantize(Decimal("0.001"))

    # Roles and people --------------------------------------------------------------------

    def create_roles(self) -> None:
        """The ILS coordinator: keeps a system's or standalone library's patron directory
        (sees and imports its patrons) and votes on nothing. Directors appoint one."""
        role, _created = Role.objects.get_or_create(
            code=ILS_COORDINATOR,
            defaults={
                "name": "ILS coordinator",
                "description": "Keeps the library's patron directory in step with the ILS.",
                "library_kinds": [Kind.SYSTEM, Kind.LIBRARY],
            },
        )
        perm_ids = ensure_permissions()
        role.permissions.set([perm_ids[p] for p in ILS_COORDINATOR_PERMISSIONS if p in perm_ids])
        role.appointed_by.set(Role.objects.filter(code=DIRECTOR))
        forget_definitions()

    def create_people(self, libraries: list[MemberLibrary], staff_per_library: int) -> list[int]:
        """Accounts, verified addresses, TOTP for those who must use MFA, memberships."""
        rng = self.rng
        User = get_user_model()
        password = make_password(DEMO_PASSWORD)  # one hash for all: fast, and it is a demo
        people: list[tuple[str, str, dict]] = []  # (email, full name, extra fields)
        roles: list[tuple[str, int, str]] = []  # (email, library index, role)

        def person(email: str, library_index: int, *role_list: str, **extra) -> None:
            people.append((email, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", extra))
            roles.extend((email, library_index, role) for role in role_list)

        person(OFFICE_EMAIL, 0, CONSORTIUM_ADMIN, is_staff=True)
        person(DEPUTY_EMAIL, 0, CONSORTIUM_ADMIN, is_staff=True)
        person(COMMUNICATIONS_EMAIL, 0, COMMUNICATIONS)
        person(TRAINING_EMAIL, 0, TRAINER)
        for index, library in enumerate(libraries[1:], start=1):
            person(f"director.{library.code}@{DEMO_DOMAIN}", index, DIRECTOR)
            for n in range(1, staff_per_library + 1):
                extra_roles = []
                if n == 1 and library.kind != Kind.BRANCH:
                    extra_roles.append(COMMUNICATIONS)
                if n == 2 and index % 4 == 0:
                    extra_roles.append(TRAINER)
                person(f"staff{n}.{library.code}@{DEMO_DOMAIN}", index, STAFF, *extra_roles)
            if library.kind != Kind.BRANCH and index % 3 == 1:
                person(f"ils.{library.code}@{DEMO_DOMAIN}", index, ILS_COORDINATOR)

        users = User.objects.bulk_create(
            [
                User(email=email, full_name=name, password=password, **extra)
                for email, name, extra in people
            ],
            batch_size=2000,
        )
        by_email = {user.email: user for user in users}
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
            batch_size=2000,
        )
        Membership.objects.bulk_create(
            [
                Membership(user=by_email[email], library=libraries[index], role=role)
                for email, index, role in roles
            ],
            batch_size=2000,
        )
        mfa_roles = {code for code, role in definitions().items() if role.requires_mfa}
        must_use_mfa = {email for email, _index, role in roles if role in mfa_roles}
        secret = encrypt(DEMO_TOTP_SECRET)  # through the MFA adapter, as allauth stores it
        Authenticator.objects.bulk_create(
            [
                Authenticator(
                    user=by_email[email], type=Authenticator.Type.TOTP, data={"secret": secret}
                )
                for email in sorted(must_use_mfa)
            ],
            batch_size=2000,
        )
        # bulk_create sends no signals: give the office its Wagtail admin group here.
        for email in {email for email, _i, role in roles if role == CONSORTIUM_ADMIN}:
            sync_office_group(by_email[email].pk)
        return [user.pk for user in users]

    # Summary -----------------------------------------------------------------------------

    def summary(self, libraries, user_ids, plugin_counts) -> None:
        out = self.stdout
        kinds = Counter(library.kind for library in libraries)
        types = Counter(library.library_type for library in libraries[1:])
        memberships = Counter(
            Membership.objects.filter(user_id__in=user_ids).values_list("role", flat=True)
        )
        out.write(self.style.SUCCESS(f"Seeded {libraries[0].name}"))
        out.write(
            f"  libraries: {len(libraries) - 1} "
            f"({kinds[Kind.SYSTEM]} systems, {kinds[Kind.BRANCH]} branches, "
            f"{kinds[Kind.LIBRARY]} standalone members)"
        )
        out.write("  types: " + ", ".join(f"{count} {kind}" for kind, count in types.items()))
        out.write(f"  people: {len(user_ids)}")
        out.write("  roles: " + ", ".join(f"{n} {role}" for role, n in sorted(memberships.items())))
        grants = MemberLibraryUserObjectPermission.objects.filter(user_id__in=user_ids).count()
        out.write(f"  grants resolved: {grants}")
        for label, count in plugin_counts.items():
            out.write(f"  {label}: {count}")
        seconds = dict(self.timings)["total"]
        out.write(f"  in {seconds:.1f} s")
        base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
        out.write("")
        out.write(f"Portal: {base}/   Wagtail admin: {base}/admin/")
        out.write(f"Every demo password is {DEMO_PASSWORD!r}.")
        for email, who in example_logins():
            out.write(f"  {email:<40} {who}")
        out.write("Directors and the office sign in with TOTP: `python manage.py demo_totp`")
