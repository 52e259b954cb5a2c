"""The notice engine: approval, participation, planning, sending, letters, rate limits
and bounces. May read the patron directory; the directory never reads it."""
