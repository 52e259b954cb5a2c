"""Domain signals: the only way plugins talk to each other.

A :class:`PluginSignal` is sent with ``sender=<MemberLibrary>`` (None before any library
exists; anything else is a TypeError) and reaches a plugin's receivers only where that
plugin is on for the library; the core's receivers always get it. A receiver in any other
installed app (Wagtail, allauth, an app that is not a plugin) is refused when it connects,
since no switch could turn it off; code outside every app (a test, a script) is heard
always. Removing a plugin therefore never breaks another. Every signal is listed, with its
arguments, in docs/plugins.md.
"""

from django.apps import apps
from django.dispatch import Signal

from portal.members.models import MemberLibrary
from portal.members.signals import memberships_rebuilt
from portal.members.switches import plugin_enabled
from portal.plugins import plugin_for_module

__all__ = [
    "PluginSignal",
    "course_completed",
    "memberships_rebuilt",
    "periodic",
    "policy_published",
    "proposal_decided",
    "reading_quiz",
    "reading_quizzes",
]


class PluginSignal(Signal):
    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
        _refuse_outside_plugins(receiver)
        super().connect(receiver, sender=sender, weak=weak, dispatch_uid=dispatch_uid)

    def _check_sender(self, sender) -> None:
        # None: no library exists yet (an empty database), and every plugin hears it.
        if sender is not None and not isinstance(sender, MemberLibrary):
            raise TypeError(
                f"A plugin signal is sent by the member library whose plugins hear it, "
                f"not {type(sender).__name__}."
            )

    def _live_receivers_for(self, library):
        for receiver in self._live_receivers(library)[0]:
            plugin = plugin_for_module(receiver.__module__)
            if plugin is None or library is None or plugin_enabled(plugin.label, library):
                yield receiver

    def send(self, sender, **named):
        self._check_sender(sender)
        return [
            (r, r(signal=self, sender=sender, **named)) for r in self._live_receivers_for(sender)
        ]

    def send_robust(self, sender, **named):
        self._check_sender(sender)
        responses = []
        for receiver in self._live_receivers_for(sender):
            try:
                responses.append((receiver, receiver(signal=self, sender=sender, **named)))
            except Exception as exc:  # noqa: BLE001 - robust by contract, like Django's
                responses.append((receiver, exc))
        return responses


def _refuse_outside_plugins(receiver) -> None:
    module = getattr(receiver, "__module__", "") or ""
    if not apps.apps_ready or not module:
        return
    if module.split(".")[0] == "portal":
        return  # the core's receivers hear every send
    if apps.get_containing_app_config(module) is not None and plugin_for_module(module) is None:
        raise ValueError(
            f"{module}.{getattr(receiver, '__name__', receiver)} is not in a plugin: plugin "
            "signals reach plugins, each only where it is on for the sender's library."
        )


# A proposal was decided: kwargs proposal, outcome ("passed"/"failed"/"tie"), subject.
proposal_decided = PluginSignal()
# A new version of a shared policy was published: kwargs policy, version, material.
policy_published = PluginSignal()
# Someone completed a course (sent once): kwargs user, course, completion.
course_completed = PluginSignal()
# Reading checks: quizzes one plugin lets another ask as proof that something was read (a
# course's quiz as a policy's acknowledgement). ``reading_quizzes`` (no kwargs) gets
# [(key, label)] to choose from; ``reading_quiz`` (kwargs key, user; sender = the person's
# library) gets an object with title, pass_mark, questions [{id, text, multiple, options
# [{id, text}]}] and grade(user, answers: {question id: [option ids]}) -> (score, passed),
# or no answer where no enabled plugin offers that key (then there is no quiz to pass).
reading_quizzes = PluginSignal()
reading_quiz = PluginSignal()
# Fanned out by one beat job so plugins never edit the beat schedule: kwargs now.
periodic = Signal()
# ``memberships_rebuilt`` (kwargs user_ids) is the member libraries' own, declared in
# portal/members/signals.py where they send it: memberships written in bulk without their
# per-row signals, or a role's permissions changed, and the grants re-synced; rebuild
# whatever is kept in step with what people may do (admin groups, say).
