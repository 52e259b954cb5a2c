"""Domain signals: the only way plugins talk to each other.

A :class:`PluginSignal` is sent with ``sender=<MemberLibrary>`` and reaches a plugin's
receivers only where that plugin is on for the library; the core's receivers always get
it. Removing a plugin therefore never breaks another.
"""

from django.dispatch import Signal


class PluginSignal(Signal):
    def _live_receivers_for(self, library):
        from portal.members.switches import plugin_enabled
        from portal.plugins import plugin_for_module

        for receiver in self._live_receivers(library)[0]:
            plugin = plugin_for_module(receiver.__module__)
            if plugin is None or library is None or plugin_enabled(plugin.label, library):
                yield receiver

    def send(self, sender, **named):
        return [
            (r, r(signal=self, sender=sender, **named)) for r in self._live_receivers_for(sender)
        ]

    def send_robust(self, sender, **named):
        responses = []
        for receiver in self._live_receivers_for(sender):
            try:
                responses.append((receiver, receiver(signal=self, sender=sender, **named)))
            except Exception as exc:  # noqa: BLE001 - robust by contract, like Django's
                responses.append((receiver, exc))
        return responses


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
# Memberships were written in bulk without their per-row signals (the demo seeder) and
# grants re-synced: whatever a plugin keeps in step with memberships (admin groups, say)
# should be rebuilt. kwargs user_ids.
memberships_rebuilt = Signal()
