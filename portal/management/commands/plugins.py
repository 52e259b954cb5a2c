from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from portal.members.models import LibraryPluginSwitch, PluginState
from portal.plugins import all_plugins, discovery_errors


class Command(BaseCommand):
    help = "List every plugin with its version, status and the permissions it brings."

    def handle(self, *args, **options):
        try:
            tables = connection.introspection.table_names()
        except DatabaseError as exc:
            raise CommandError(f"Could not open the database: {exc}") from exc
        if PluginState._meta.db_table not in tables:
            raise CommandError(
                "The database is not set up yet: run `manage.py migrate` first "
                f"({connection.settings_dict['NAME']})."
            )
        try:
            states = {s.plugin: s for s in PluginState.objects.all()}
            switched_off = {}
            for plugin in LibraryPluginSwitch.objects.filter(enabled=False).values_list(
                "plugin", flat=True
            ):
                switched_off[plugin] = switched_off.get(plugin, 0) + 1
        except DatabaseError as exc:
            raise CommandError(f"Could not read the plugins' state: {exc}") from exc
        for plugin in all_plugins():
            problems = plugin.problems()
            meta = plugin.meta
            state = states.get(plugin.label)
            if problems:
                status = self.style.ERROR("refused: " + "; ".join(problems))
            elif state and not state.enabled:
                status = "disabled for the consortium"
            else:
                status = "enabled" + (" (mandatory)" if state and state.mandatory else "")
                if plugin.label in switched_off:
                    status += f", switched off by {switched_off[plugin.label]} library(ies)"
            version = getattr(meta, "version", "?")
            self.stdout.write(self.style.MIGRATE_HEADING(f"{plugin.label} {version}"))
            self.stdout.write(f"  {getattr(meta, 'name', plugin.verbose_name)} — {status}")
            self.stdout.write(f"  app: {plugin.name}")
            for perm in getattr(meta, "permissions", ()):
                roles = ", ".join(perm.default_roles) or "nobody by default"
                self.stdout.write(f"  - {plugin.label}.{perm.codename}: {perm.label} [{roles}]")
        for module, reason in discovery_errors.items():
            self.stdout.write(self.style.ERROR(f"{module} — not loaded: {reason}"))
