"""Append-only, hash-chained event log. ``record`` and ``record_on_commit`` are the API."""
