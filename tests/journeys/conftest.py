"""The demo as a newcomer meets it, driven in a real browser.

Each journey runs against ``bin/demo`` itself — the seeded demo, its own groups and
permissions, its Celery worker with beat, its broker and its web server — once on SQLite
exactly as a newcomer runs it, and once on PostgreSQL (``bin/demo --database``). Nothing
is granted by a factory: a journey can only do what the seeded people can do with clicks.
The test reads the outcome where a person would (pages, mail files) and, where a count is
needed, from the demo's own database with plain SQL.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .pages import PageRecord

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "concord-demo"  # the documented demo password
OFFICE = "office@example.org"
DEPUTY = "deputy@example.org"
COMMS = "comms@example.org"
# A code lives 30 s; allauth refuses a code twice, so a second sign-in waits for the next.
TOTP_PERIOD = 30


def _free_port(start: int) -> int:
    port = start
    while True:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                port += 1
                continue
            return port


def _postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.fail("the PostgreSQL journeys need DATABASE_URL (bin/test starts PostgreSQL)")
    return url


def _create_database(server_url: str, name: str) -> str:
    """A copy of the run's migrated template (tests/database_template.py): the database
    ``migrate`` would make, so ``bin/demo``'s own ``migrate`` finds nothing to do. The
    migrations themselves run on PostgreSQL when the template is built, and on SQLite in
    the SQLite demo; migrating a third time here only held the journeys up (some 40 s of
    CPU while the SQLite demo migrates beside it)."""
    from tests import database_template

    return database_template.create_copy(server_url, name)


def _drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Demo:
    """A running ``bin/demo``: where it serves, where it keeps its files, its database."""

    backend: str
    url: str
    var: Path
    database_url: str = ""
    used_codes: dict[str, int] = field(default_factory=dict)
    # In titles a journey writes, so a rerun against the same demo makes new ones.
    tag: str = field(default_factory=lambda: time.strftime("%H%M%S"))

    @property
    def mail_dir(self) -> Path:
        return self.var / "mail"

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read the demo's own database (SQLite file or PostgreSQL) with plain SQL."""
        if self.backend == "sqlite":
            with sqlite3.connect(self.var / "concord.sqlite3", timeout=30) as conn:
                return conn.execute(query.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()

    def mails(self) -> list[str]:
        """Every message the demo has written to its mail folder (Django's file backend
        separates messages in a file with a line of 79 dashes)."""
        messages = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for part in re.split(r"\n-{79}\n", path.read_text(errors="replace")):
                if part.strip():
                    messages.append(part)
        return messages

    def messages(self) -> list:
        """The mails parsed, headers decoded (``msg["Subject"]``, ``msg.get_body()``)."""
        import email
        from email import policy

        return [email.message_from_string(m, policy=policy.default) for m in self.mails()]

    def totp_code(self, email: str) -> str:
        from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

        from portal.demo import DEMO_TOTP_SECRET

        counter = int(time.time()) // TOTP_PERIOD
        # A code used already, or in its last two seconds (it could run out on the way):
        # the next one, as a person would wait for it.
        if self.used_codes.get(email) == counter or TOTP_PERIOD - time.time() % TOTP_PERIOD < 2:
            time.sleep(TOTP_PERIOD - time.time() % TOTP_PERIOD + 0.5)
            counter = int(time.time()) // TOTP_PERIOD
        self.used_codes[email] = counter
        return format_hotp_value(hotp_value(DEMO_TOTP_SECRET, counter))


def _wait_until_serving(process: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"bin/demo ended with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"bin/demo did not serve within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


BACKENDS = ["sqlite", "postgresql"]


@dataclass
class DemoProcess:
    """One ``bin/demo`` being started or running, and how to stop it."""

    demo: Demo
    process: subprocess.Popen
    log: Path
    database: str = ""
    serving: bool = False

    def stop(self) -> None:
        if self.process.poll() is None:
            # bin/demo stops its web server, worker and broker on SIGTERM.
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.database:
            _drop_database(_postgres_url(), self.database)
            self.database = ""


def _start_demo(backend: str, var: Path) -> DemoProcess:
    port = _free_port(8700 if backend == "sqlite" else 8800)
    url = f"http://127.0.0.1:{port}"
    args = ["bash", str(ROOT / "bin/demo"), "--port", str(port), "--no-reload"]
    env = {
        **os.environ,
        "CONCORD_VAR_DIR": str(var),
        "DEMO_REDIS_PORT": str(_free_port(6480 if backend == "sqlite" else 6580)),
        "DJANGO_SETTINGS_MODULE": "portal.settings.dev",
        # The periodic jobs (closing votes, digests) every 15 s rather than the demo's
        # minute, so the journeys wait less for what beat does.
        "CONCORD_PERIODIC_SECONDS": "15",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    database_url, name = "", ""
    if backend == "postgresql":
        name = f"journey_{os.getpid()}"
        database_url = _create_database(_postgres_url(), name)
        args += ["--database", database_url]
    log = var / "demo.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    demo = Demo(backend=backend, url=url, var=var, database_url=database_url)
    return DemoProcess(demo=demo, process=process, log=log, database=name)


@pytest.fixture(scope="session")
def demo_processes(tmp_path_factory):
    """Both demos, started together when the first journey runs, and stopped at the end:
    the PostgreSQL one migrates and seeds while the first SQLite journey runs."""
    if os.environ.get("JOURNEY_DEMO"):
        yield {}
        return
    running = {}
    try:
        for backend in BACKENDS:
            running[backend] = _start_demo(backend, tmp_path_factory.mktemp(f"demo-{backend}"))
        yield running
    finally:
        for started in running.values():
            started.stop()


@pytest.fixture(scope="session")
def attached_demo():
    """``JOURNEY_DEMO=http://127.0.0.1:8000,/path/to/var``: a SQLite demo already running
    (to write a journey against), one for the run."""
    url, var = os.environ["JOURNEY_DEMO"].split(",")
    return Demo(backend="sqlite", url=url, var=Path(var))


@pytest.fixture(params=BACKENDS)
def demo(request, demo_processes):
    """``bin/demo`` on a fresh database, seeded by ``seed_demo`` with its defaults.

    Function-scoped, so pytest runs each job on SQLite and then on PostgreSQL before the
    next job: the vote that the first job opens has then run its window on both demos by
    the time the last job counts it. (A demo's jobs one after another left the last job
    waiting a minute for the window to end, once per demo.)

    ``JOURNEY_DEMO`` points the SQLite journeys at a demo that is already running; the
    PostgreSQL ones are skipped then.
    """
    backend = request.param
    if os.environ.get("JOURNEY_DEMO"):
        if backend != "sqlite":
            pytest.skip("JOURNEY_DEMO runs the journeys against one running SQLite demo")
        return request.getfixturevalue("attached_demo")
    started = demo_processes[backend]
    if not started.serving:
        _wait_until_serving(started.process, started.demo.url, started.log, timeout=600)
        started.serving = True
    return started.demo


class People:
    """Demo people in a real browser, each signed in with clicks (and TOTP) the first time a
    journey needs them and kept signed in afterwards, as a person keeps their session: a
    later journey opens a new tab in their browser. Signing in afresh each time made a
    second sign-in within a code's 30 s wait for the next code (allauth refuses a code
    twice). Every page they load is checked as it loads (``pages.PageRecord``)."""

    def __init__(self, browser, demo: Demo, record: PageRecord | None = None, kept=None):
        self.browser, self.demo, self.record = browser, demo, record
        self.kept = {} if kept is None else kept  # email -> their signed-in browser
        self.tabs = []

    def sign_in(self, email: str, mfa: bool = False):
        context = self.kept.get(email)
        if context is not None:
            page = context.new_page()
            self.tabs.append(page)
            page.goto("/dashboard/")
            expect(page).to_have_url(re.compile(r"/dashboard/$"))
            return page
        context = self.browser.new_context(base_url=self.demo.url, locale="en-US")
        context.set_default_timeout(15_000)
        if self.record is not None:
            self.record.attach(context, email)
        page = context.new_page()
        self.tabs.append(page)
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        if mfa:
            page.get_by_label("Code").fill(self.demo.totp_code(email))
            page.get_by_role("button", name="Sign In").click()
            page.wait_for_load_state()
            if "/2fa/authenticate/" in page.url:
                # This code was used already (by an earlier run): the next one will do.
                self.demo.used_codes[email] = int(time.time()) // TOTP_PERIOD
                page.get_by_label("Code").fill(self.demo.totp_code(email))
                page.get_by_role("button", name="Sign In").click()
        expect(page).to_have_url(re.compile(r"/dashboard/$"))
        self.kept[email] = context
        return page

    def close(self):
        for tab in self.tabs:
            tab.close()


@pytest.fixture(scope="session")
def signed_in_people(browser):
    """Each demo's people's browsers, kept for the run: ``{backend: {email: context}}``."""
    kept: dict[str, dict] = {}
    yield kept
    for contexts in kept.values():
        for context in contexts.values():
            context.close()


@pytest.fixture(scope="session")
def page_record(tmp_path_factory):
    """The pages the journeys loaded, for ``test_pages_checked``."""
    return PageRecord(tmp_path_factory.mktemp("journey-pages"))


@pytest.fixture
def people(browser, demo, page_record, signed_in_people):
    people = People(browser, demo, page_record, signed_in_people.setdefault(demo.url, {}))
    yield people
    people.close()


def director_of(demo: Demo, library_code: str) -> str:
    return f"director.{library_code}@example.org"


def wait_for(condition, timeout: float = 60, interval: float = 0.5, what: str = ""):
    """Poll ``condition`` (work done by the demo's Celery worker) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what or condition}")
        time.sleep(interval)


def write_rich_text(page, editor, field: str, text: str, at_end: bool = False) -> None:
    """Type into a Wagtail rich-text editor and wait until the form field it posts
    (``field``, or fields whose name starts with it) holds the text: the editor may still
    be starting when the page has loaded, and then keys reach the page but not the form."""
    script = (
        "([f, t]) => [...document.querySelectorAll(`input[name^='${f}']`)]"
        ".some(i => i.value.includes(t))"
    )
    for _attempt in range(3):
        editor.click()
        if at_end:
            editor.press("Control+End")
        editor.press_sequentially(text)
        try:
            page.wait_for_function(script, arg=[field, text.strip()], timeout=5_000)
            return
        except Exception:  # noqa: BLE001, S112 - typed too early: try again
            continue
    pytest.fail(f"the rich-text field {field!r} never took the text {text!r}")
