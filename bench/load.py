"""A mixed crowd against gunicorn on PostgreSQL: requests/s, p50/p95/p99 and errors per journey.

    DATABASE_URL=postgres://concord:concord@127.0.0.1:5432/concord_load \\
        .venv/bin/python bench/load.py --seed --patrons 50000     # seed 500 libraries first
    ... bench/load.py --users 60 --time 60                       # reuse the seeded database

Journeys (locust, headless, on loopback):
  director votes   the open votes, one proposal, a ballot for their library, the register
  staff policies   the policy index, a policy, its acknowledgement
  staff course     the transcript, enrol, a lesson page, lesson done
  office publishes the announcement form, a new announcement to everyone, the list

The portal runs as it would in production: gunicorn with deploy/gunicorn.conf.py and
portal.settings.production (DEBUG off, manifest static files collected to a temporary
folder), behind a pretend proxy: requests carry ``X-Forwarded-Proto: https`` as nginx
sends it. People are signed in by sessions made beforehand (the sign-in form and TOTP are
not what this measures). Three yes/no votes open for the run, so every director has
ballots to cast. Tasks go to a Redis database of their own (no worker: mail waits).

``--seed`` runs ``seed_demo --reset`` (point it at a database you can throw away).
Gunicorn and the crowd are stopped at the end, whatever happens.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "crowd":
    # locust patches the standard library with gevent: it must be imported first.
    import locust  # noqa: F401

import argparse
import json
import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
JOURNEYS = ["director votes", "staff policies", "staff course", "office publishes"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- 1. prepare: the people, their sessions and what they will touch (Django) ---------------


def prepare(out: str, directors: int, staff: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import timedelta
    from importlib import import_module

    from allauth.mfa.models import Authenticator
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from governance.models import Proposal
    from governance.services.proposals import do_open_proposal, do_withdraw_proposal
    from knowledge_base.policies.models import PolicyPage
    from knowledge_base.training.models import CoursePage, LessonPage
    from portal.members.models import MemberLibrary, Membership
    from portal.members.roles import CONSORTIUM_ADMIN, DIRECTOR, STAFF

    store = import_module(settings.SESSION_ENGINE).SessionStore
    backend = settings.AUTHENTICATION_BACKENDS[0]

    def session(user) -> str:
        s = store()
        s[SESSION_KEY] = str(user.pk)
        s[BACKEND_SESSION_KEY] = backend
        s[HASH_SESSION_KEY] = user.get_session_auth_hash()
        s.create()
        return s.session_key

    with_mfa = Exists(Authenticator.objects.filter(user=OuterRef("user")))
    office = (
        Membership.objects.filter(role=CONSORTIUM_ADMIN).filter(with_mfa).select_related("user")
    ).first()
    if office is None:
        raise SystemExit("no office account with TOTP: seed the database first (--seed)")

    # The votes earlier runs opened are withdrawn first, so that every run meets the same
    # open votes (the proposals page and the director's dashboard list them all).
    earlier = Proposal.objects.filter(
        title__startswith="Load test motion", state=Proposal.State.OPEN
    )
    for proposal in earlier:
        do_withdraw_proposal(office.user, proposal, "opened by an earlier benchmark run")

    # Fresh yes/no votes for this run, open to every member library, through the services.
    proposals = []
    for n in range(3):
        proposal = Proposal.objects.create(
            title=f"Load test motion {n + 1} ({timezone.now():%Y-%m-%d %H:%M})",
            kind=Proposal.Kind.YES_NO,
            closes_at=timezone.now() + timedelta(days=1),
        )
        proposals.append(do_open_proposal(office.user, proposal).pk)

    voters = (
        Membership.objects.filter(role=DIRECTOR, library__kind__in=["system", "library"])
        .filter(with_mfa)
        .select_related("user", "library")
        .order_by("?")[:directors]
    )
    readers = (
        Membership.objects.filter(role=STAFF)
        .exclude(library__kind=MemberLibrary.Kind.CONSORTIUM)
        .select_related("user")
        .order_by("?")[:staff]
    )
    policies = list(PolicyPage.objects.live().values_list("code", flat=True)[:50])
    courses = []
    for course in CoursePage.objects.live()[:10]:
        lessons = LessonPage.objects.live().child_of(course)
        courses.append(
            {
                "id": course.pk,
                "lessons": [{"id": lesson.pk, "url": lesson.url} for lesson in lessons[:10]],
            }
        )
    plan = {
        "proposals": proposals,
        "directors": [{"session": session(m.user), "library": m.library_id} for m in voters],
        "staff": [session(m.user) for m in readers],
        "office": session(office.user),
        "policies": policies,
        "courses": [c for c in courses if c["lessons"]],
    }
    Path(out).write_text(json.dumps(plan))
    print(
        f"prepared: {len(plan['directors'])} directors, {len(plan['staff'])} staff, "
        f"{len(policies)} policies, {len(plan['courses'])} courses, 3 open votes"
    )


# --- 2. the crowd (locust) ----------------------------------------------------------------


def crowd(host: str, plan_file: str, users: int, seconds: int, spawn_rate: float) -> None:
    import random
    from collections import defaultdict
    from itertools import cycle

    import gevent
    from locust import HttpUser, between, events, task
    from locust.env import Environment

    plan = json.loads(Path(plan_file).read_text())
    https = host.replace("http://", "https://")
    csrf = secrets.token_hex(16)  # Django accepts any 32-character token the cookie holds
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)

    @events.request.add_listener
    def record(name, response_time, exception, response, **_kw):
        journey = name.split(":", 1)[0]
        times[journey].append(response_time)
        if exception is not None:
            errors[journey] += 1

    directors = cycle(plan["directors"])
    staff = cycle(plan["staff"])

    class Person(HttpUser):
        abstract = True
        wait_time = between(0.5, 2.0)
        session_key = ""

        def headers(self, post: bool = False) -> dict:
            # Set by hand: the production cookies are Secure, and this is plain HTTP.
            h = {
                "Cookie": f"sessionid={self.session_key}; csrftoken={csrf}",
                "X-Forwarded-Proto": "https",
            }
            if post:
                h.update({"X-CSRFToken": csrf, "Origin": https, "Referer": https + "/"})
            return h

        def get(self, journey: str, step: str, url: str, ok=(200,)):
            with self.client.get(
                url,
                name=f"{journey}: {step}",
                headers=self.headers(),
                allow_redirects=False,
                catch_response=True,
            ) as r:
                if r.status_code not in ok:
                    r.failure(f"{r.status_code}")
                return r

        def post(self, journey: str, step: str, url: str, data: dict, ok=(302,)):
            with self.client.post(
                url,
                data=data,
                name=f"{journey}: {step}",
                headers=self.headers(post=True),
                allow_redirects=False,
                catch_response=True,
            ) as r:
                if r.status_code not in ok:
                    r.failure(f"{r.status_code}")
                return r

    class Director(Person):
        weight = 3

        def on_start(self):
            me = next(directors)
            self.session_key, self.library = me["session"], me["library"]
            self.to_vote = list(plan["proposals"])

        @task
        def vote(self):
            j = "director votes"
            self.get(j, "open votes", "/governance/")
            if self.to_vote:
                pk = self.to_vote.pop()
                self.get(j, "proposal", f"/governance/proposals/{pk}/")
                choice = random.choice(["yes", "no", "abstain"])
                data = {"library": self.library, "choice": choice}
                self.post(j, "ballot", f"/governance/proposals/{pk}/vote/", data, ok=(200,))
            else:
                self.get(j, "register", "/governance/register/")

    class PolicyReader(Person):
        weight = 4

        def on_start(self):
            self.session_key = next(staff)

        @task
        def read(self):
            j = "staff policies"
            self.get(j, "index", "/policies/")
            code = random.choice(plan["policies"])
            self.get(j, "policy", f"/policies/{code}/")
            self.post(j, "acknowledge", f"/policies/{code}/acknowledge/", {})

    class Learner(Person):
        weight = 3

        def on_start(self):
            self.session_key = next(staff)

        @task
        def learn(self):
            j = "staff course"
            self.get(j, "transcript", "/training/me/")
            course = random.choice(plan["courses"])
            self.post(j, "enrol", f"/training/courses/{course['id']}/enrol/", {})
            lesson = random.choice(course["lessons"])
            self.get(j, "lesson", lesson["url"])
            self.post(j, "lesson done", f"/training/lessons/{lesson['id']}/done/", {})

    class Office(Person):
        fixed_count = 1
        wait_time = between(5, 10)  # one person, writing

        def on_start(self):
            self.session_key = plan["office"]
            self.n = 0

        @task
        def publish(self):
            j = "office publishes"
            self.get(j, "form", "/announcements/new/")
            self.n += 1
            data = {
                "title": f"Load test notice {self.n} {secrets.token_hex(3)}",
                "body": "The courier runs late today.\n\nReturns are delayed a day.",
                "category": "service_change",
                "priority": "normal",
                "everyone": "on",
            }
            self.post(j, "publish", "/announcements/new/", data)
            self.get(j, "list", "/announcements/")

    env = Environment(
        user_classes=[Director, PolicyReader, Learner, Office], host=host, events=events
    )
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=spawn_rate)
    started = time.perf_counter()
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    wall = time.perf_counter() - started

    def pct(values: list[float], p: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    print(f"\n{users} users for {wall:.0f} s against {host}")
    columns = ("requests", 9), ("req/s", 8), ("p50 ms", 9), ("p95 ms", 9), ("p99 ms", 9)
    print(f"{'journey':<18}" + "".join(f"{c:>{w}}" for c, w in columns) + f"{'errors':>8}")
    every: list[float] = []
    for journey in JOURNEYS:
        values = times.get(journey, [])
        every += values
        if not values:
            print(f"{journey:<18}{0:>9}")
            continue
        print(
            f"{journey:<18}{len(values):>9}{len(values) / wall:>8.1f}{pct(values, 50):>9.0f}"
            f"{pct(values, 95):>9.0f}{pct(values, 99):>9.0f}{errors.get(journey, 0):>8}"
        )
    if every:
        print(
            f"{'all':<18}{len(every):>9}{len(every) / wall:>8.1f}{pct(every, 50):>9.0f}"
            f"{pct(every, 95):>9.0f}{pct(every, 99):>9.0f}{sum(errors.values()):>8}"
        )
    for entry in env.stats.errors.values():
        print(f"  error: {entry.name} -> {entry.error} x{entry.occurrences}")


# --- 3. the orchestra ----------------------------------------------------------------------


def production_env(work: Path, redis: str) -> dict:
    """The environment of a one-machine production run on a free loopback port."""
    port = free_port()
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "REDIS_URL": redis,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(work / "static"),
        "MEDIA_ROOT": str(work / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": str(work / "access.log"),
        "GUNICORN_ERROR_LOG": str(work / "error.log"),
        "LOG_FORMAT": "plain",
        # One machine: files on its disk; a badge key of the run's own.
        "CONCORD_STORAGE": "local",
        "TRAINING_BADGE_SIGNING_KEY": Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode(),
    }


MANAGE = [PYTHON, str(ROOT / "manage.py")]


def seed(env: dict, libraries: int, patrons: int) -> None:
    """Migrate and ``seed_demo --reset`` (it needs the dev settings)."""
    dev = {**env, "DJANGO_SETTINGS_MODULE": "portal.settings.dev"}
    started = time.perf_counter()
    subprocess.run([*MANAGE, "migrate", "--verbosity", "0"], env=dev, check=True)
    subprocess.run(
        [*MANAGE, "seed_demo", "--reset", "--libraries", str(libraries), "--patrons", str(patrons)],
        env=dev,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(
        f"seeded {libraries} libraries, {patrons} patrons in {time.perf_counter() - started:.0f} s"
    )


def collect_static(env: dict) -> None:
    subprocess.run([*MANAGE, "collectstatic", "--noinput", "--verbosity", "0"], env=env, check=True)


@contextmanager
def gunicorn_serving(env: dict, work: Path) -> Iterator[str]:
    """gunicorn with deploy/gunicorn.conf.py until the block ends; yields its address."""
    gunicorn = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "-c",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "portal.wsgi:application",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        host = "http://" + env["GUNICORN_BIND"]
        for _ in range(120):
            try:
                urllib.request.urlopen(host + "/healthz", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"gunicorn did not answer; see {work / 'error.log'}")
        workers = env.get("GUNICORN_WORKERS", f"{os.cpu_count() * 2 + 1} (cpu x 2 + 1)")
        threads = env.get("GUNICORN_THREADS", "4")
        keep = env.get("DATABASE_CONN_MAX_AGE", "60 (production default)")
        print(
            f"gunicorn on {host}: {workers} workers x {threads} threads, production settings, "
            f"database connections kept {keep} s"
        )
        yield host
    finally:
        gunicorn.terminate()
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", action="store_true", help="migrate and seed_demo --reset first")
    parser.add_argument("--libraries", type=int, default=500)
    parser.add_argument("--patrons", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--time", type=int, default=60, help="seconds of load")
    parser.add_argument("--directors", type=int, default=300)
    parser.add_argument("--staff", type=int, default=400)
    parser.add_argument("--gunicorn-workers", type=int, default=None)
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL to a database of its own (--seed wipes it)")

    work = Path(tempfile.mkdtemp(prefix="concord-load-"))
    env = production_env(work, os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/9"))
    if args.gunicorn_workers:
        env["GUNICORN_WORKERS"] = str(args.gunicorn_workers)
    if args.seed:
        seed(env, args.libraries, args.patrons)
    plan = work / "plan.json"
    collect_static(env)
    subprocess.run(
        [PYTHON, __file__, "prepare", str(plan), str(args.directors), str(args.staff)],
        env=env,
        check=True,
    )
    with gunicorn_serving(env, work) as host:
        subprocess.run(
            [
                PYTHON,
                __file__,
                "crowd",
                host,
                str(plan),
                str(args.users),
                str(args.time),
                str(args.spawn_rate),
            ],
            env=env,
            check=True,
        )
    server_errors = sum(
        1 for line in (work / "access.log").read_text().splitlines() if '" 5' in line
    )
    print(f"gunicorn access log: {server_errors} responses 5xx ({work / 'access.log'})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "crowd":
        crowd(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    else:
        main()
