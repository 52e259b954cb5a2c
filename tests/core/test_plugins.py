"""The plugin contract: registry, entry-point discovery, checks, per-library switches, signals."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from portal import access
from portal.members.models import LibraryPluginSwitch, PluginState
from portal.members.roles import DIRECTOR, STAFF, all_permissions
from portal.plugins import PluginMeta, PortalPluginConfig, available_plugins, get_plugin
from portal.signals import PluginSignal
from tests import factories

ROOT = Path(__file__).resolve().parents[2]


def fresh(obj):
    """The same row in a new instance: per-request caches start empty, as in a new request."""
    return type(obj).objects.get(pk=obj.pk)


BUILTINS = {"governance", "policies", "training", "announcements", "patron_notices"}


def test_the_five_builtins_are_registered_with_permissions_and_panels():
    plugins = {p.label: p for p in available_plugins()}
    assert set(plugins) >= BUILTINS
    for label in BUILTINS:
        meta = plugins[label].meta
        assert meta.permissions, label
        assert meta.dashboard_panel, label
        assert plugins[label].problems() == []
    assert "governance.cast_ballot" in all_permissions()


def test_a_plugin_without_meta_or_with_wrong_compatibility_is_refused_clearly():
    class NoMeta(PortalPluginConfig):
        name = "tests.core"
        label = "no_meta"

    class TooNew(PortalPluginConfig):
        name = "tests.core"
        label = "too_new"
        meta = PluginMeta(name="x", version="1", compatibility="concord>=2")

    class BadRole(PortalPluginConfig):
        name = "tests.core"
        label = "bad_role"
        meta = PluginMeta(
            name="x",
            version="1",
            compatibility="concord>=1.0,<2",
            permissions=(
                __import__("portal.plugins").plugins.PluginPermission("go", "Go", ("janitor",)),
            ),
        )

    module = sys.modules[__name__]
    assert "has no PluginMeta" in NoMeta("tests.core", module).problems()[0]
    assert (
        "requires concord>=2 but this is concord 1.0.0"
        in TooNew("tests.core", module).problems()[0]
    )
    assert "unknown role 'janitor'" in BadRole("tests.core", module).problems()[0]


def test_system_check_is_clean_for_the_builtins():
    messages = [m for m in checks.run_checks(tags=["concord"]) if m.id.startswith("concord")]
    assert messages == []


@pytest.fixture(scope="module")
def installed_plugin_package(tmp_path_factory):
    """pip-install the tiny package under tests/plugin_pkg into a private directory. From
    a copy: pip builds in the package's own folder, and two test processes building in the
    same one at once broke each other's wheel."""
    target = tmp_path_factory.mktemp("site")
    source = shutil.copytree(
        ROOT / "tests" / "plugin_pkg",
        tmp_path_factory.mktemp("plugin_pkg") / "src",
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        cwd=target,
    )
    return target


@pytest.fixture(scope="module")
def database_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """A migrated database the subprocesses can open: the test database itself on
    PostgreSQL, a freshly migrated file on SQLite (whose test database lives in memory)."""
    from django.db import connection

    with django_db_blocker.unblock():
        settings = connection.settings_dict
        if connection.vendor == "postgresql":
            return (
                f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:"
                f"{settings['PORT']}/{settings['NAME']}"
            )
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'plugins.sqlite3'}"
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"],
        check=True,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "portal.settings.test"},
    )
    return url


@pytest.fixture(scope="module")
def manage(database_url):
    return lambda site_dir, *args, **env: run_manage(database_url, site_dir, *args, **env)


def run_manage(database_url, site_dir, *args, **env):
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{site_dir}",
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        **env,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.slow
def test_a_third_party_plugin_installed_by_entry_point_appears(installed_plugin_package, manage):
    result = manage(installed_plugin_package, "plugins")
    assert result.returncode == 0, result.stderr
    assert "hello 0.1.0" in result.stdout
    assert "hello.say_hello: Say hello [staff]" in result.stdout
    # The incompatible one is listed as refused, and the built-ins are still there.
    assert "refused: concord_outdated: requires concord>=9" in result.stdout
    assert "governance 1.0.0" in result.stdout


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.skipif("not os.environ.get('DATABASE_URL', '').startswith('postgres')")
def test_a_third_party_plugin_gets_everything_the_contract_promises(installed_plugin_package):
    """concord_hello uses every field of PluginMeta, as docs/plugins.md describes them; the
    core serves, shows, schedules, reports, switches and seeds it without naming it. (The
    script runs on this test's migrated database in its own transaction, rolled back.)"""
    from django.db import connection

    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    script = ROOT / "tests" / "plugin_pkg" / "exercise_hello.py"
    # The built-ins left out, as a deployment may: the demo is then the plugin's alone.
    builtins = "governance,knowledge_base.policies,knowledge_base.training"
    result = run_manage(
        url,
        installed_plugin_package,
        "shell",
        "-c",
        script.read_text(),
        CONCORD_EXCLUDED_PLUGINS=f"{builtins},plugins.announcements,plugins.patron_notices",
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("HELLO-CONTRACT "))
    seen = json.loads(line.removeprefix("HELLO-CONTRACT "))
    # permissions, and urls.py mounted at /<label>/
    assert seen["can"] is True
    assert seen["url"] == "/hello/"
    assert seen["page"] == [200, "Hello from the plugin."]
    assert seen["page_refused"] == 403
    # navigation and dashboard_panel, to someone holding the permission
    assert "Greetings" in seen["navigation"]
    assert seen["panels"] == [["Greetings", "<p>Hello to 1 libraries.</p>"]]
    # periodic_jobs in beat's schedule as <label>.<name>
    assert seen["beat"] == {"task": "concord_hello.tasks.tidy", "schedule": 3600.0}
    # report_columns beside the people
    assert ["hello", "greeted", "Greeted"] in seen["report"]
    # api_scopes offered for tokens, api_router served under /api/v1/<label>/
    assert seen["scopes"] == "Read greetings"
    assert seen["api"][0] == 200
    assert seen["api"][1]["greeting"].startswith("Hello, ")
    # periodic and a PluginSignal reach it while it is on; installed()/uninstalled()
    assert seen["calls"] == [
        ["periodic", ""],
        ["course_completed", "hello-lib"],
        ["uninstalled", "hello-lib"],
        ["installed", "hello-lib"],
    ]
    # demo_options, demo_reset and demo_seeder, by seed_demo
    assert seen["demo_option_default"] == 3
    assert seen["demo_calls"] == [["reset", ""], ["seeded", "2"]]
    assert "greetings: 2" in seen["demo_summary"]


@pytest.mark.slow
def test_an_incompatible_plugin_is_reported_by_check_but_the_site_still_runs(
    installed_plugin_package, manage
):
    result = manage(installed_plugin_package, "check")
    assert result.returncode == 0, result.stderr
    assert "concord.W002" in result.stderr
    assert "requires concord>=9 but this is concord 1.0.0" in result.stderr


@pytest.mark.slow
def test_a_deployment_can_exclude_a_plugin(installed_plugin_package, manage):
    result = manage(
        installed_plugin_package, "plugins", CONCORD_EXCLUDED_PLUGINS="concord_outdated,governance"
    )
    assert result.returncode == 0, result.stderr
    assert "outdated" not in result.stdout
    assert "governance 1.0.0" not in result.stdout
    assert "hello 0.1.0" in result.stdout


@pytest.mark.slow
def test_a_missing_plugin_module_is_reported_not_fatal(installed_plugin_package, manage, tmp_path):
    # An entry point whose module is gone: discovery leaves it out and check names it.
    dist = next(installed_plugin_package.glob("concord_hello-*.dist-info"))
    broken = tmp_path / "site"
    broken.mkdir()
    (broken / dist.name).mkdir()
    for item in dist.iterdir():
        text = item.read_text() if item.is_file() else None
        if text is not None:
            if item.name == "entry_points.txt":
                text = "[concord.plugins]\nghost = concord_ghost\n"
            (broken / dist.name / item.name).write_text(text)
    result = manage(broken, "check")
    assert result.returncode == 0, result.stderr
    assert "concord.W001" in result.stderr and "concord_ghost" in result.stderr


@pytest.mark.django_db
def test_library_switch_off_reaches_branches_and_a_branch_can_switch_back_on():
    tree = factories.tree(systems=2, branches=2)
    system, other_system = tree["systems"]
    branch = system.get_children().first()
    director = factories.member(system, DIRECTOR)
    assert access.can(director, "governance.cast_ballot", system)

    LibraryPluginSwitch.objects.create(library=system, plugin="governance", enabled=False)
    director, system, branch = fresh(director), fresh(system), fresh(branch)
    assert not access.can(director, "governance.cast_ballot", system)
    assert not access.can(director, "governance.view_proposals", branch)
    assert access.can(director, "policies.view_policies", system)

    LibraryPluginSwitch.objects.create(library=branch, plugin="governance", enabled=True)
    branch = fresh(branch)
    assert access.can(director, "governance.view_proposals", branch)
    assert set(access.libraries_for(director, "governance.view_proposals")) == {branch}

    # The office makes it mandatory: switches no longer apply.
    PluginState.objects.create(plugin="governance", mandatory=True)
    system = fresh(system)
    assert access.can(director, "governance.cast_ballot", system)
    assert other_system not in access.libraries_for(director, "governance.cast_ballot")


@pytest.mark.django_db
def test_a_plugin_disabled_for_the_consortium_grants_nothing():
    tree = factories.tree(systems=1, branches=1)
    staff = factories.member(tree["systems"][0], STAFF)
    PluginState.objects.create(plugin="training", enabled=False)
    assert not access.can(staff, "training.take_courses", tree["systems"][0])
    assert not access.libraries_for(staff, "training.take_courses").exists()


@pytest.mark.django_db
def test_plugin_signals_reach_only_plugins_enabled_for_the_library():
    tree = factories.tree(systems=2, branches=0)
    on, off = tree["systems"]
    LibraryPluginSwitch.objects.create(library=off, plugin="training", enabled=False)
    signal = PluginSignal()
    heard = []

    def training_receiver(sender, **kwargs):
        heard.append(("training", sender.code))

    def core_receiver(sender, **kwargs):
        heard.append(("core", sender.code))

    # Receivers count as the plugin whose module defines them.
    training_receiver.__module__ = "knowledge_base.training.signals"
    core_receiver.__module__ = "portal.home.signals"
    signal.connect(training_receiver, weak=False)
    signal.connect(core_receiver, weak=False)

    signal.send(sender=on)
    signal.send_robust(sender=off)
    assert heard == [("training", on.code), ("core", on.code), ("core", off.code)]


def test_get_plugin():
    assert get_plugin("governance").meta.version == "1.0.0"
    assert get_plugin("nope") is None
