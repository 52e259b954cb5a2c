"""Vote burst: N libraries' directors cast ballots at once over HTTP, then N readers hit
the results page right at the close, then the minutes PDF of a 30-item meeting.

    DATABASE_URL=postgres://concord:concord@127.0.0.1:5432/concord \
        .venv/bin/python bench/vote_burst.py [--libraries 525] [--readers 500]

It creates a scratch PostgreSQL database next to DATABASE_URL's (dropped at the end),
migrates it, seeds a consortium, serves the portal with gunicorn (a threaded wsgiref
server when gunicorn is not installed; the output says which) and prints: ballots sent,
ballots counted (must be equal), duplicates (must be 0), p50/p95 latency, the reveal
burst's latency and the PDF time.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def scratch_database(url: str) -> tuple[str, str]:
    import psycopg

    parts = urlsplit(url)
    name = f"concord_bench_{os.getpid()}"
    admin = urlunsplit(parts._replace(path=parts.path))
    with psycopg.connect(admin, autocommit=True) as conn:
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


def seed(libraries: int):
    """Consortium, N member libraries each with a director (MFA on) and a session."""
    from allauth.mfa.models import Authenticator
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from governance import services
    from governance.models import AgendaItem, Meeting, Proposal
    from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR
    from tests import factories

    root = factories.consortium(name="Bench Consortium", code="bench-root")
    admin = factories.member(root, CONSORTIUM_ADMIN)
    voters = []
    for n in range(libraries):
        library = factories.library(root, name=f"Bench library {n:04d}", code=f"bench{n}")
        director = factories.member(library, DIRECTOR)
        Authenticator.objects.create(user=director, type=Authenticator.Type.TOTP, data={})
        session = SessionStore()
        session[SESSION_KEY] = str(director.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = director.get_session_auth_hash()
        session.create()
        voters.append((library.pk, session.session_key))
    reader = voters[0][1]
    proposal = Proposal.objects.create(
        title="Bench: adopt the shared loan rules",
        weighting="weighted",
        quorum="0.5",
        closes_at=timezone.now() + timedelta(hours=1),
    )
    proposal = services.do_open_proposal(admin, proposal)
    meeting = Meeting.objects.create(title="Bench annual meeting", starts_at=timezone.now())
    for n in range(30):
        AgendaItem.objects.create(
            meeting=meeting,
            title=f"Agenda item {n + 1}",
            notes="Discussion and decision." * 3,
            proposal=proposal if n == 0 else None,
            sort_order=n,
        )
    return proposal, voters, reader, meeting


def serve(port: int, env: dict) -> tuple[subprocess.Popen, str]:
    if shutil.which("gunicorn") or (Path(sys.executable).parent / "gunicorn").exists():
        gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).parent / "gunicorn")
        command = [
            gunicorn,
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(max(2, os.cpu_count() or 2) * 2),  # x 4 threads: about 16 connections
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--log-level",
            "warning",
        ]
        kind = "gunicorn"
    else:
        # A bounded pool, like gunicorn's threads: 16 requests at a time, the rest queue.
        code = "\n".join(
            [
                "from concurrent.futures import ThreadPoolExecutor",
                "from wsgiref.simple_server import WSGIServer, WSGIRequestHandler, make_server",
                "from portal.wsgi import application",
                "class S(WSGIServer):",
                "    request_queue_size = 1024",
                "    pool = ThreadPoolExecutor(16)",
                "    def process_request(self, request, address):",
                "        self.pool.submit(self.work, request, address)",
                "    def work(self, request, address):",
                "        try:",
                "            self.finish_request(request, address)",
                "        except Exception:",
                "            self.handle_error(request, address)",
                "        finally:",
                "            self.shutdown_request(request)",
                "class H(WSGIRequestHandler):",
                "    def log_message(self, *a): pass",
                f"make_server('127.0.0.1', {port}, application, S, H).serve_forever()",
            ]
        )
        command = [sys.executable, "-c", code]
        kind = "threaded wsgiref (gunicorn not installed)"
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, kind


def request(port, method, path, session, body=None):
    csrf = "b" * 32
    headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--libraries", type=int, default=525)
    parser.add_argument("--readers", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
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
        import django

        django.setup()
        from django.db import connection

        from governance import services
        from governance.models import Ballot, Meeting, Proposal
        from portal.pdf import render_pdf

        started = time.perf_counter()
        proposal, voters, reader, meeting = seed(args.libraries)
        print(f"seeded {args.libraries} libraries in {time.perf_counter() - started:.1f} s")
        connection.close()
        port = free_port()
        server, kind = serve(port, env)
        print(f"server: {kind} on port {port}")
        vote_path = f"/governance/proposals/{proposal.pk}/vote/"
        # Warm every worker once so the burst measures voting, not imports.
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda _: request(port, "GET", "/dashboard/", reader), range(32)))

        def cast(voter):
            library_id, session = voter
            choice = secrets.choice(["yes", "yes", "no", "abstain"])
            return request(
                port, "POST", vote_path, session, f"library={library_id}&choice={choice}"
            )

        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(cast, voters))
        elapsed = time.perf_counter() - started
        latencies = [lat for _status, lat in results]
        ok = sum(1 for status, _lat in results if status == 200)
        counted = Ballot.objects.filter(proposal_id=proposal.pk).count()
        duplicates = (
            Ballot.objects.filter(proposal_id=proposal.pk)
            .values("library_id")
            .annotate(n=django.db.models.Count("pk"))
            .filter(n__gt=1)
            .count()
        )
        print(f"ballots sent:     {len(voters)} in {elapsed:.2f} s (HTTP 200: {ok})")
        print(f"ballots counted:  {counted}")
        print(f"duplicates:       {duplicates}")
        print(
            f"vote latency:     p50 {percentile(latencies, 0.5):.0f} ms, "
            f"p95 {percentile(latencies, 0.95):.0f} ms"
        )
        verdict = counted == len(voters) == ok and duplicates == 0 and elapsed < 10
        print(f"vote burst:       {'PASS' if verdict else 'FAIL'} (target: all counted in 10 s)")

        Proposal.objects.filter(pk=proposal.pk).update(
            closes_at=proposal.closes_at - timedelta(hours=2),
            opens_at=proposal.closes_at - timedelta(hours=3),
        )
        services.close_proposal(proposal.pk)
        connection.close()
        results_path = f"/governance/proposals/{proposal.pk}/results/"
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
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
            f"reveal burst:     {args.readers} readers in {elapsed:.2f} s (HTTP 200: {read_ok}), "
            f"p50 {percentile(latencies, 0.5):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms"
        )

        from governance.selectors import minutes_context

        meeting = Meeting.objects.get(pk=meeting.pk)
        started = time.perf_counter()
        pdf = render_pdf("governance/minutes.html", minutes_context(meeting))
        took = time.perf_counter() - started
        print(
            f"minutes PDF:      30 items, {len(pdf) // 1024} KiB in {took:.2f} s "
            f"({'PASS' if took < 2 else 'FAIL'}, target under 2 s)"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(base_url, name)


if __name__ == "__main__":
    main()
