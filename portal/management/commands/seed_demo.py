"""``manage.py seed_demo``: a believable consortium to click through, at any size.

The command runs the phases in one transaction and times them: the libraries
(``portal.demo.libraries``: planned in memory, written with ``bulk_create``), the roles and
people (``portal.demo.people``, likewise), then the role grants resolved in one
``sync_grants`` call. Each plugin adds its own demo data through
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

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from portal.celery import app as celery_app
from portal.db import refresh_statistics
from portal.demo import DEMO_DOMAIN, DEMO_PASSWORD, example_logins
from portal.demo.libraries import create_libraries
from portal.demo.people import create_people, create_roles
from portal.members.grants import sync_grants
from portal.members.models import MemberLibrary, MemberLibraryUserObjectPermission, Membership
from portal.plugins import available_plugins
from portal.signals import memberships_rebuilt

Kind = MemberLibrary.Kind


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
                libraries = create_libraries(self.rng, options["libraries"])
            with self.phase("people"):
                create_roles()
                user_ids = create_people(self.rng, libraries, options["staff_per_library"])
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
