"""Vote burst: N libraries' directors cast ballots at once over HTTP against gunicorn on
PostgreSQL, then N readers hit the results page right at the close.

    DATABASE_URL=postgres://concord:concord@127.0.0.1:5432/concord \
        .venv/bin/python bench/vote_burst.py [--libraries 525] [--readers 500] \
        [--workers 5] [--threads 4] [--concurrency 100]

It creates a scratch PostgreSQL database next to DATABASE_URL's (dropped at the end),
migrates it, seeds a consortium in bulk (each director with MFA and a session made
beforehand, so the burst measures voting, not password hashing or TOTP), serves the
portal with gunicorn and prints:

- the cost of one cast-ballot request, measured in-process: SQL queries and time;
- ballots sent, ballots counted (must be equal), duplicates (must be 0), ballot events
  and audit entries (one each per ballot), the audit chain verified, p50/p95 latency;
- where the database sessions spent the burst (sampled from pg_stat_activity every
  20 ms): waiting for the audit chain's advisory lock, for a row lock, running a query,
  or idle in a transaction while Python works; with Little's law, ms per ballot each;
- the reveal burst: N readers of the results page at once, right after the close.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "correct horse battery"  # noqa: S105 - bench accounts in a scratch database


def scratch_database(url: str) -> tuple[str, str]:
    import psycopg

    parts = urlsplit(url)
    name = f"concord_bench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(libraries: int, secret: bool = False):
    """Consortium and N member libraries, each with a director (MFA on) and a session,
    written in bulk; the grants resolved once."""
    from allauth.mfa.models import Authenticator
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from governance.models import Proposal
    from governance.services.proposals import do_open_proposal
    from portal.members.grants import sync_grants
    from portal.members.models import MemberLibrary, Membership
    from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR
    from tests import factories

    User = get_user_model()
    root = factories.consortium(name="Bench Consortium", code="bench-root")
    admin = factories.member(root, CONSORTIUM_ADMIN)
    rows = MemberLibrary.objects.bulk_create(
        [
            MemberLibrary(
                path=MemberLibrary._get_path(root.path, 2, n + 1),
                depth=2,
                numchild=0,
                name=f"Bench library {n:04d}",
                code=f"bench{n}",
                kind=MemberLibrary.Kind.LIBRARY,
                vote_weight=1 + n % 5,
                contact_email=f"office.bench{n}@example.org",
            )
            for n in range(libraries)
        ]
    )
    MemberLibrary.objects.filter(pk=root.pk).update(numchild=libraries)
    password = make_password(PASSWORD)
    directors = User.objects.bulk_create(
        [User(email=f"director.{lib.code}@example.org", password=password) for lib in rows]
    )
    Membership.objects.bulk_create(
        [
            Membership(user=u, library=lib, role=DIRECTOR)
            for u, lib in zip(directors, rows, strict=True)
        ]
    )
    Authenticator.objects.bulk_create(
        [Authenticator(user=u, type=Authenticator.Type.TOTP, data={}) for u in directors]
    )
    sync_grants([u.pk for u in directors])
    # Sessions as a sign-in with password and TOTP leaves them.
    store = SessionStore()
    expires = timezone.now() + timedelta(days=1)
    sessions = [
        Session(
            session_key=get_random_string(32),
            session_data=store.encode(
                {
                    SESSION_KEY: str(u.pk),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: u.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for u in directors
    ]
    Session.objects.bulk_create(sessions)
    voters = [(lib.pk, s.session_key) for lib, s in zip(rows, sessions, strict=True)]
    closes = timezone.now() + timedelta(hours=1)
    proposal = do_open_proposal(
        admin,
        Proposal.objects.create(
            title="Bench: adopt the shared loan rules",
            weighting="weighted",
            quorum="0.5",
            secret=secret,
            closes_at=closes,
        ),
    )
    # A second open vote, for measuring one request in-process without touching the first.
    probe = do_open_proposal(
        admin, Proposal.objects.create(title="Bench: probe", secret=secret, closes_at=closes)
    )
    return proposal, probe, voters


def probe_one_request(probe, voters, samples: int = 20) -> None:
    """Queries and server time of a cast-ballot request, in-process (no HTTP, no load)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    path = f"/governance/proposals/{probe.pk}/vote/"
    timings = []
    captured = None
    for n, (library_id, session) in enumerate(voters[: samples + 1]):
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = session
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.post(path, {"library": library_id, "choice": "yes"})
            took = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        if n:  # the first one warms templates and caches
            timings.append(took * 1000)
            captured = ctx.captured_queries
    kinds = Counter(q["sql"].split()[0].upper() for q in captured)
    print(
        f"one cast request: {len(captured)} SQL queries "
        f"({', '.join(f'{k} {v}' for k, v in kinds.most_common())}), "
        f"median {statistics.median(timings):.1f} ms in-process"
    )


class Sampler(threading.Thread):
    """What every database session of the scratch database is doing, every 20 ms."""

    def __init__(self, url: str, database: str):
        super().__init__(daemon=True)
        self.url, self.database = url, database
        self.counts: Counter = Counter()
        self.samples = 0
        self.stop = threading.Event()

    def run(self):
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'",
                    [self.database],
                ).fetchall()
                for state, wait_type, wait_event in rows:
                    if state == "idle":
                        continue
                    if wait_type == "Lock":
                        key = (
                            "waiting: audit chain lock (advisory)"
                            if wait_event == "advisory"
                            else f"waiting: row lock ({wait_event})"
                        )
                    elif state == "idle in transaction":
                        key = "idle in transaction (Python working)"
                    elif wait_type in (None, "Client"):
                        key = "running a query"
                    else:
                        key = f"waiting: {wait_type}:{wait_event}"
                    self.counts[key] += 1
                self.samples += 1
                time.sleep(0.02)

    def report(self, elapsed: float, ballots: int) -> None:
        print("where the database sessions spent the burst (mean sessions; ms per ballot):")
        for key, n in self.counts.most_common():
            mean = n / max(1, self.samples)
            print(f"  {key:44s} {mean:5.2f}  {mean * elapsed / ballots * 1000:7.1f} ms")


def serve(port: int, env: dict, workers: int, threads: int) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "portal.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread" if threads > 1 else "sync",
        "--threads",
        str(threads),
        "--backlog",
        "2048",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def request(port, method, path, session, body=None):
    csrf = "b" * 32
    headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        conn.close()
    return status, time.perf_counter() - started


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, int(share * len(values)))] * 1000


def main():
    cores = os.cpu_count() or 2
    parser = argparse.ArgumentParser()
    parser.add_argument("--libraries", type=int, default=525)
    parser.add_argument("--readers", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100, help="voters at once")
    parser.add_argument("--workers", type=int, default=2 * cores + 1)
    parser.add_argument("--threads", type=int, default=1, help="per worker (1: sync workers)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--secret", action="store_true", help="a secret ballot")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if "postgres" not in base_url:
        sys.exit("Set DATABASE_URL to a PostgreSQL database (the bench makes a scratch one).")
    url, name = scratch_database(base_url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_CONN_MAX_AGE": "60",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    os.environ.update(env)
    server = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        import logging

        import django

        django.setup()
        logging.disable(logging.INFO)
        from django.db import connection
        from django.db.models import Count

        from governance.models import Ballot, BallotEvent, Proposal
        from governance.services.closing import close_proposal
        from portal.audit.models import AuditEntry
        from portal.audit.services import verify_chain

        started = time.perf_counter()
        proposal, probe, voters = seed(args.libraries, secret=args.secret)
        print(f"seeded {args.libraries} libraries in {time.perf_counter() - started:.1f} s")
        probe_one_request(probe, voters)
        connection.close()
        port = free_port()
        server = serve(port, env, args.workers, args.threads)
        kind = f"{args.threads} threads" if args.threads > 1 else "sync"
        print(f"server: gunicorn, {args.workers} workers x {kind}, {cores} cores")
        vote_path = f"/governance/proposals/{proposal.pk}/vote/"
        # Warm every worker so the burst measures voting, not imports.
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda n: request(port, "GET", "/dashboard/", voters[n][1]),
                    range(4 * args.workers),
                )
            )

        def cast(voter):
            library_id, session = voter
            choice = secrets.choice(["yes", "yes", "no", "abstain"])
            return request(
                port, "POST", vote_path, session, f"library={library_id}&choice={choice}"
            )

        sampler = Sampler(url, name)
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(cast, voters))
        elapsed = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        latencies = [lat for _status, lat in results]
        ok = sum(1 for status, _lat in results if status == 200)
        ballots = Ballot.objects.filter(proposal_id=proposal.pk)
        counted = ballots.count()
        duplicates = ballots.values("library_id").annotate(n=Count("pk")).filter(n__gt=1).count()
        events = BallotEvent.objects.filter(proposal_id=proposal.pk, action="cast").count()
        audited = AuditEntry.objects.filter(
            action="governance.ballot.cast", data__proposal=proposal.pk
        ).count()
        chain = verify_chain()
        print(f"ballots sent:     {len(voters)} in {elapsed:.2f} s (HTTP 200: {ok})")
        print(f"ballots counted:  {counted}")
        print(f"duplicates:       {duplicates}")
        print(f"ballot events:    {events}; audit entries: {audited}; chain intact: {chain.intact}")
        print(
            f"vote latency:     p50 {percentile(latencies, 0.5):.0f} ms, "
            f"p95 {percentile(latencies, 0.95):.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms; {len(voters) / elapsed:.0f} ballots/s"
        )
        sampler.report(elapsed, len(voters))
        verdict = (
            counted == len(voters) == ok == events == audited
            and duplicates == 0
            and chain.intact
            and elapsed < 10
        )
        print(f"vote burst:       {'PASS' if verdict else 'FAIL'} (target: all counted in 10 s)")

        Proposal.objects.filter(pk=proposal.pk).update(
            closes_at=proposal.closes_at - timedelta(hours=2),
            opens_at=proposal.closes_at - timedelta(hours=3),
        )
        started = time.perf_counter()
        close_proposal(proposal.pk)
        print(f"close and count:  {(time.perf_counter() - started) * 1000:.0f} ms")
        connection.close()
        results_path = f"/governance/proposals/{proposal.pk}/results/"
        started = time.perf_counter()
        with ThreadPoolExecutor(args.readers) as pool:
            reads = list(
                pool.map(
                    lambda n: request(port, "GET", results_path, voters[n % len(voters)][1]),
                    range(args.readers),
                )
            )
        elapsed = time.perf_counter() - started
        read_ok = sum(1 for status, _lat in reads if status == 200)
        latencies = [lat for _status, lat in reads]
        print(
            f"reveal burst:     {args.readers} readers at once in {elapsed:.2f} s "
            f"(HTTP 200: {read_ok}), p50 {percentile(latencies, 0.5):.0f} ms, "
            f"p95 {percentile(latencies, 0.95):.0f} ms"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(base_url, name)


if __name__ == "__main__":
    main()
