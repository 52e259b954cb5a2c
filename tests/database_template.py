"""A migrated PostgreSQL database that every test run copies instead of migrating again.

Migrating an empty database takes about 20 s of CPU (Wagtail alone has over a hundred
migrations), and every test process needs one. The first run after the migrations or the
pinned requirements change builds ``concord_tmpl_<hash>`` once; every test database is then
``CREATE DATABASE … TEMPLATE`` of it, which takes a second, and Django's ``migrate`` on the
copy finds nothing to do. A template is only ever used once it is complete: it is built
under another name and renamed at the end, under an advisory lock, so two runs starting
together build it once. Templates no run has used for a day are dropped.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "concord_tmpl_"
LOCK = 7_366_001  # pg_advisory_lock key: any number no other code uses


def fingerprint() -> str:
    """What the migrated schema depends on: our migrations and the pinned packages."""
    digest = hashlib.sha256()
    files = sorted(ROOT.glob("requirements*.txt"))
    files += sorted(
        path
        for path in ROOT.rglob("migrations/*.py")
        if ".venv" not in path.parts and "node_modules" not in path.parts
    )
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def template_name() -> str:
    return PREFIX + fingerprint()


def ensure(database_url: str) -> str:
    """The name of a complete, migrated template on ``database_url``'s server; built if
    missing. Older templates of this project are dropped."""
    import psycopg

    name = template_name()
    # Advisory locks belong to one database: every run takes it in the server's own
    # "postgres" database, whichever database its DATABASE_URL names.
    server = database_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [LOCK])
        try:
            built = dict(
                conn.execute(
                    "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname LIKE %s",
                    [PREFIX.replace("_", r"\_") + "%"],
                ).fetchall()
            )
            if name not in built:
                _build(conn, database_url, name)
            # Another checkout (a branch with other migrations) may still be copying its
            # own template: only those unused for a day go.
            for stale, stamp in built.items():
                if stale != name and time.time() - float(stamp or 0) > 86_400:
                    conn.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
            conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{time.time():.0f}'")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK])
    return name


def _server(database_url: str) -> str:
    return database_url.rsplit("/", 1)[0]


def _locked(database_url: str, work) -> None:
    import psycopg

    with psycopg.connect(f"{_server(database_url)}/postgres", autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [LOCK])
        try:
            work(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK])


def create_copy(database_url: str, name: str) -> str:
    """A new database ``name`` on ``database_url``'s server, migrated as the template is;
    its URL. An older one of that name is dropped first."""
    template = ensure(database_url)

    def create(conn) -> None:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    _locked(database_url, create)
    return f"{_server(database_url)}/{name}"


def copy_into(database_url: str, target_url: str) -> None:
    """The template's schema and rows loaded into the empty database ``target_url``, on
    another server (``pg_dump`` piped into ``psql``)."""
    template = f"{_server(database_url)}/{ensure(database_url)}"

    def copy(_conn) -> None:
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", template],
            capture_output=True,
            check=True,
        )
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", target_url],
            input=dump.stdout,
            capture_output=True,
            check=True,
        )

    _locked(database_url, copy)


def _build(conn, database_url: str, name: str) -> None:
    building = f"{name}_building"
    conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{building}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"{database_url.rsplit('/', 1)[0]}/{building}",
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        raise RuntimeError(f"migrating the test template failed:\n{result.stderr[-4000:]}")
    conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
