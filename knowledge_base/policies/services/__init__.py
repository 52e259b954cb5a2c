"""Writes for shared policies, as check_* (validate, authorise, lock) then do_* (act); one
module a concern: ``library`` (setting it up), ``publication``, ``campaigns``, ``adoption``
(by a committee), ``acknowledgement``, ``procedures`` (local), ``reviews`` and
``reminders``. Reads they share are in ``selectors``.

Publication has one path: Wagtail publishes a revision (office approval workflow, a direct
publish, or ``publication.do_publish_revision`` after a passed proposal) and the
``page_published`` receiver calls ``publication.record_published_version``, which snapshots
the version, opens the acknowledgement campaign for a material change and sends
``policy_published``.
"""
