"""Writes, as check_* (validate input and access, take row locks) then do_* (change, and
schedule side effects on commit); one module a concern: ``enrolment``, ``assignment``,
``progress`` (lessons), ``quizzes``, ``completion``, ``certificates``, ``recertification``
and ``reminders``. Reads they share are in ``selectors``."""
