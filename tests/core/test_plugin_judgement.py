"""Which plugins are sound is judged once per request, and again when a meta changes."""

import dataclasses

import pytest
from django.core.signals import request_started
from django.db import close_old_connections

from portal.plugins import PortalPluginConfig, all_plugins, available_plugins


@pytest.fixture(autouse=True)
def no_connection_upkeep():
    """The requests here only start: like Django's test client, leave out the connection
    upkeep that request_started runs (it would touch a database these tests do not use)."""
    request_started.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)


def test_each_plugin_is_judged_once_per_request(monkeypatch):
    judged = []
    problems = PortalPluginConfig.problems

    def counting(self):
        judged.append(self.label)
        return problems(self)

    monkeypatch.setattr(PortalPluginConfig, "problems", counting)
    request_started.send(sender=None)
    first = available_plugins()
    for _ in range(11):
        assert available_plugins() == first
    assert sorted(judged) == sorted(p.label for p in all_plugins())

    request_started.send(sender=None)
    available_plugins()
    assert len(judged) == 2 * len(all_plugins())


def test_a_plugin_whose_meta_changed_is_judged_again(monkeypatch):
    plugin = available_plugins()[0]
    too_new = dataclasses.replace(plugin.meta, compatibility="concord>=9")
    monkeypatch.setattr(plugin, "meta", too_new)
    assert plugin not in available_plugins()
    monkeypatch.undo()
    assert plugin in available_plugins()
