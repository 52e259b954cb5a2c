"""What the database benchmarks share: a scratch PostgreSQL database next to
DATABASE_URL's, migrated, with Django set up on it, dropped on the way out.

The benchmarks are scripts (``python bench/x.py``), so they import this by its plain name,
as their own directory is on ``sys.path``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vote_burst import drop_database, scratch_database  # noqa: E402 - a sibling script


@contextmanager
def scratch_django(keep: bool = False) -> Iterator[str]:
    """Django on a new, migrated PostgreSQL database beside DATABASE_URL's (yields its URL);
    the database is dropped afterwards unless ``keep``. Exits with a message when
    DATABASE_URL is not PostgreSQL."""
    base_url = os.environ.get("DATABASE_URL", "")
    if "postgres" not in base_url:
        sys.exit("Set DATABASE_URL to a PostgreSQL database (the bench makes a scratch one).")
    url, name = scratch_database(base_url)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    os.environ.update(env)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        import django

        django.setup()
        logging.disable(logging.INFO)
        yield url
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not keep:
            drop_database(base_url, name)
