"""A third-party plugin written from docs/plugins.md alone: every field of the contract."""

from portal.plugins import (
    STAFF,
    DemoOption,
    NavLink,
    PeriodicJob,
    PluginMeta,
    PluginPermission,
    PortalPluginConfig,
)

SAY_HELLO = "hello.say_hello"

# What the core called, for the tests to read back (a real plugin would write rows).
calls: list[tuple[str, str]] = []


class HelloConfig(PortalPluginConfig):
    name = "concord_hello"
    label = "hello"
    meta = PluginMeta(
        name="Hello",
        version="0.1.0",
        compatibility="concord>=1.0,<2",
        description="Says hello to member staff.",
        permissions=(PluginPermission("say_hello", "Say hello", (STAFF,)),),
        dashboard_panel="concord_hello.panels.dashboard_panel",
        # The panel shows only the libraries: nothing of its own changes it.
        dashboard_panel_changes_with=(),
        periodic_jobs=(PeriodicJob("tidy", "concord_hello.tasks.tidy", 3600.0),),
        demo_seeder="concord_hello.demo.seed",
        demo_options=(DemoOption("--greetings", "Greetings to seed", default=3),),
        demo_reset="concord_hello.demo.reset",
        report_columns="concord_hello.reports.report_columns",
        navigation=(NavLink("Greetings", "hello:index", (SAY_HELLO,)),),
        api_router="concord_hello.api.router",
        api_scopes={"hello:read": "Read greetings"},
    )

    def ready(self):
        from . import signals  # noqa: F401 - connects the receivers

    def installed(self, library):
        calls.append(("installed", library.code))

    def uninstalled(self, library):
        calls.append(("uninstalled", library.code))
