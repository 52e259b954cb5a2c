"""The typed parts of the plugin contract: what the core reads of PluginMeta, the plugin
signals' checks, the demo options, the one version number."""

import tomllib
from pathlib import Path

import pytest

from portal.management.commands.seed_demo import Command as SeedDemo
from portal.plugins import CORE_VERSION, PluginMeta, get_plugin
from portal.signals import course_completed

ROOT = Path(__file__).resolve().parents[2]


def test_the_core_version_is_the_projects_one():
    with (ROOT / "pyproject.toml").open("rb") as f:
        declared = tomllib.load(f)["project"]["version"]
    assert declared == CORE_VERSION


def test_a_plugin_declares_its_api_as_fields():
    meta = get_plugin("patron_notices").meta
    assert meta.api_router == "plugins.patron_notices.directory.api.router"
    assert "patrons:write" in meta.api_scopes


def test_an_older_plugins_api_in_extra_is_still_read():
    meta = PluginMeta(
        name="Old",
        version="1",
        compatibility=">=1.0",
        extra={"api_router": "old.api.router", "api_scopes": {"old:read": "Read"}},
    )
    assert meta.api_router == "old.api.router"
    assert meta.api_scopes == {"old:read": "Read"}


def test_seed_demo_offers_the_options_plugins_declare():
    parser = SeedDemo().create_parser("manage.py", "seed_demo")
    options = parser.parse_args(["--patrons", "12"])
    assert options.patrons == 12
    assert parser.parse_args([]).patrons == 5000


def test_every_demo_reset_hook_is_a_declared_field():
    for label in ("governance", "policies", "training", "announcements"):
        assert get_plugin(label).meta.demo_reset.endswith(".reset_demo")


@pytest.mark.django_db
def test_a_plugin_signal_is_sent_by_a_library_only():
    with pytest.raises(TypeError, match="member library"):
        course_completed.send(sender=object(), user=None, course=None, completion=None)


def test_a_plugin_signal_refuses_a_receiver_outside_the_plugins():
    def receiver(**kwargs):
        return None

    receiver.__module__ = "wagtail.admin.signal_handlers"  # an app that is not a plugin
    before = len(course_completed.receivers)
    with pytest.raises(ValueError, match="not in a plugin"):
        course_completed.connect(receiver, weak=False)
    assert len(course_completed.receivers) == before
