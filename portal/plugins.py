"""The plugin contract.

A plugin is a Django app whose ``AppConfig`` subclasses :class:`PortalPluginConfig` and
carries a :class:`PluginMeta`. Built-ins are listed in ``CONCORD_BUILTIN_PLUGINS``;
third-party plugins are pip packages that declare an entry point in the
``concord.plugins`` group whose value is the app's module. The core never imports a
plugin by name: it asks this registry.

This module is imported by the settings, so nothing at module level touches models.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig, apps
from django.core.signals import request_started
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

if TYPE_CHECKING:
    from portal.members.models import MemberLibrary

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "concord.plugins"


def _core_version() -> str:
    """Concord's version, from pyproject.toml's [project] version: the one number that
    plugins' ``compatibility`` is checked against."""
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        with pyproject.open("rb") as f:
            return tomllib.load(f)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("concord")
        except PackageNotFoundError:
            return "0"


CORE_VERSION = _core_version()

# The built-in roles' codes: every site starts with these roles (``portal.members.roles``
# gives their names and defaults), so they are the roles a plugin's permissions may name
# as default roles.
CONSORTIUM_ADMIN = "consortium_admin"
DIRECTOR = "director"
STAFF = "staff"
COMMUNICATIONS = "communications"
TRAINER = "trainer"
BUILTIN_ROLES = (CONSORTIUM_ADMIN, DIRECTOR, STAFF, COMMUNICATIONS, TRAINER)

# Apps that discovery found but could not load; the system check reports them.
discovery_errors: dict[str, str] = {}


@dataclass(frozen=True)
class PluginPermission:
    """A per-library permission a plugin brings, and the roles that get it by default."""

    codename: str
    label: Any
    default_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class NavLink:
    """A link in the site navigation, shown to people who hold one of ``permissions`` for
    some member library (everyone signed in when there are none). ``url_name`` is reversed."""

    label: Any
    url_name: str
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PeriodicJob:
    """A Celery beat entry a plugin asks for; ``schedule`` is seconds or a crontab."""

    name: str
    task: str
    schedule: Any


@dataclass(frozen=True)
class DemoOption:
    """A ``manage.py seed_demo`` option a plugin's demo seeder reads from its ``options``
    (``--patrons 5000`` becomes ``options["patrons"]``)."""

    flag: str
    help: Any
    type: type = int
    default: Any = None

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class PluginMeta:
    """What the core reads of a plugin; every field is documented in docs/plugins.md."""

    name: Any
    version: str
    compatibility: str
    description: Any = ""
    permissions: tuple[PluginPermission, ...] = ()
    # Dotted path to a callable(request, libraries) -> DashboardPanel | None: called with
    # the person's libraries where the plugin is on.
    dashboard_panel: str | None = None
    # What the panel shows, as model labels ("booklists.Entry"): the dashboard keeps the
    # panel's HTML between visits until one of these is saved or deleted (or the plugin
    # calls portal.home.panels.panel_changed after a bulk write). None: never kept.
    dashboard_panel_changes_with: tuple[str, ...] | None = None
    # What the parts of the plugin's pages that everyone reads alike show (a lesson's text,
    # a policy's; portal.home.kept, not personal), as model labels: kept until one of these
    # is saved or deleted. None: the panel's list above. A narrower list keeps those parts
    # while people act (enrol, acknowledge), which moves the panels on, not the content.
    shared_parts_change_with: tuple[str, ...] | None = None
    periodic_jobs: tuple[PeriodicJob, ...] = ()
    # Dotted path to a callable(libraries, options) that adds the plugin's demo data for
    # ``manage.py seed_demo``; it may return {label: count} for the command's summary.
    demo_seeder: str | None = None
    # Options of ``seed_demo`` that the seeder reads (see DemoOption).
    demo_options: tuple[DemoOption, ...] = ()
    # Dotted path to a callable() that ``seed_demo --reset`` calls before it deletes the
    # libraries: the plugin removes rows that protect them (ballots) or pages it would
    # otherwise seed twice.
    demo_reset: str | None = None
    # Dotted path to a callable(library, people) -> list[portal.reports.ReportColumn]: the
    # plugin's columns in the per-library people report (contract in portal/reports.py).
    report_columns: str | None = None
    # The plugin's entries in the site navigation, in order.
    navigation: tuple[NavLink, ...] = ()
    # Dotted path to a django-ninja Router, served under /api/v1/<label, - for _>/.
    api_router: str | None = None
    # The API token scopes the router checks: {scope: label shown when a token is made}.
    api_scopes: dict[str, Any] = field(default_factory=dict)
    # Dotted path to a Celery router, callable(name, args, kwargs, options, task=None, **kw)
    # -> {"queue": ...} | None: which queue the plugin's tasks go to. The core adds it to
    # ``task_routes`` after the deployment's own (CELERY_TASK_ROUTES), which win.
    task_router: str | None = None
    # Anything else a plugin keeps with its meta; the core reads none of it. (Before the
    # fields above, ``extra["api_router"]`` and ``extra["api_scopes"]`` were read: they
    # still are, when the field is not given.)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.api_router is None and self.extra.get("api_router"):
            object.__setattr__(self, "api_router", self.extra["api_router"])
        if not self.api_scopes and self.extra.get("api_scopes"):
            object.__setattr__(self, "api_scopes", dict(self.extra["api_scopes"]))


class PortalPluginConfig(AppConfig):
    """Base for every plugin's AppConfig. Subclasses set ``meta``."""

    meta: PluginMeta | None = None
    default_auto_field = "django.db.models.BigAutoField"
    # Django picks the one AppConfig in apps.py marked default; the imported base is not.
    default = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "default" not in cls.__dict__:
            cls.default = True

    @property
    def plugin_label(self) -> str:
        return self.label

    def installed(self, library: MemberLibrary) -> None:
        """Called when the plugin is switched on for ``library``."""

    def uninstalled(self, library: MemberLibrary) -> None:
        """Called when the plugin is switched off for ``library``."""

    def problems(self) -> list[str]:
        """Why this plugin cannot be loaded; empty when it is sound."""
        meta = self.meta
        if not isinstance(meta, PluginMeta):
            return [f"{self.name}: its AppConfig has no PluginMeta in `meta`."]
        found = []
        try:
            spec = SpecifierSet(meta.compatibility.removeprefix("concord"))
        except InvalidSpecifier:
            found.append(
                f"{self.name}: compatibility {meta.compatibility!r} is not a version "
                "specifier such as 'concord>=1.0,<2'."
            )
        else:
            if Version(CORE_VERSION) not in spec:
                found.append(
                    f"{self.name}: requires {meta.compatibility} but this is concord "
                    f"{CORE_VERSION}."
                )
        for perm in meta.permissions:
            if not perm.codename.isidentifier():
                found.append(f"{self.name}: permission {perm.codename!r} is not an identifier.")
            for role in perm.default_roles:
                if role not in BUILTIN_ROLES:
                    found.append(
                        f"{self.name}: permission {perm.codename!r} names unknown role {role!r}."
                    )
        return found


def _entry_point_apps() -> list[str]:
    return [ep.value.split(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)]


def discover_plugin_apps(builtins: list[str], exclude: list[str] | None = None) -> list[str]:
    """App modules for INSTALLED_APPS: built-ins plus entry points, minus exclusions.

    A module that cannot be found is left out and remembered, so the site still starts
    and ``manage.py check`` says what is wrong.
    """
    excluded = set(exclude or ())
    found: list[str] = []
    for module in [*builtins, *_entry_point_apps()]:
        if module in excluded or module in found:
            continue
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError) as exc:
            spec = None
            discovery_errors[module] = str(exc)
        if spec is None:
            discovery_errors.setdefault(module, "module not found")
            logger.error("Plugin %s could not be found and is not loaded.", module)
            continue
        found.append(module)
    return found


def all_plugins() -> list[PortalPluginConfig]:
    """Every plugin app that Django loaded, sound or not."""
    return [c for c in apps.get_app_configs() if isinstance(c, PortalPluginConfig)]


# (loaded plugins and their metas, the sound ones): one request asks a dozen times (URLs,
# navigation, switches, the dashboard), and the answer changes only with a plugin's meta.
_sound: tuple[tuple, list[PortalPluginConfig]] = ((), [])


def available_plugins() -> list[PortalPluginConfig]:
    """Plugins whose meta is sound: the only ones the portal will use.

    Worked out once per request (and again when a plugin's meta is not the one judged)."""
    global _sound
    plugins = all_plugins()
    key = tuple((id(c), id(c.meta)) for c in plugins)
    judged, sound = _sound
    if judged != key:
        sound = [c for c in plugins if not c.problems()]
        _sound = (key, sound)
    return list(sound)


def _judge_again(**_kwargs) -> None:
    global _sound
    _sound = ((), [])


request_started.connect(_judge_again, dispatch_uid="portal.plugins.judge_again")


def get_plugin(label: str) -> PortalPluginConfig | None:
    for config in available_plugins():
        if config.label == label:
            return config
    return None


def plugin_for_module(module: str) -> PortalPluginConfig | None:
    config = apps.get_containing_app_config(module)
    return config if isinstance(config, PortalPluginConfig) else None


def import_string_or_none(path: str | None):
    if not path:
        return None
    from django.utils.module_loading import import_string

    return import_string(path)
