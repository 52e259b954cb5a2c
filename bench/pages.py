"""Each role's page against the portal's plain home page, in the same run: medians, p95, ratios.

    DATABASE_URL=postgres://concord:concord@127.0.0.1:5432/concord_pages \\
        .venv/bin/python bench/pages.py --seed              # seed 500 libraries first
    ... bench/pages.py --rounds 5                           # reuse the seeded database

The portal runs as bench/load.py runs it: gunicorn with deploy/gunicorn.conf.py and
portal.settings.production (so database connections are kept, its default), on PostgreSQL,
behind a pretend proxy. People are signed in by sessions made beforehand (a director, a
staff member and the office, through load.py's ``prepare``, which also opens three votes).

The pages: the dashboard of each of the three, the proposals list (director), a policy and
a lesson (staff), the announcements (office), and the plain page they are measured
against: the Wagtail home page as a visitor sees it (a page and a template, no plugin work,
no person). The signed-in home page is timed too, to show what signing in alone costs.

Rounds alternate the pages so that a busy machine weighs on all of them alike: each round
times every page one request at a time, then every page with 16 clients at once (each with
its own kept-alive connection, as a browser). Ratios are of the medians (and p95s) over
all rounds, each page against the plain page.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from load import PYTHON, collect_static, gunicorn_serving, production_env, seed

PLAIN = "home, visitor"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Client:
    """One kept-alive connection, as one browser tab."""

    def __init__(self, address: str):
        host, port = address.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def get(self, path: str, session: str | None) -> float:
        headers = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
        if session:
            headers["Cookie"] = f"sessionid={session}"
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.conn.request("GET", path, headers=headers)
                response = self.conn.getresponse()
                response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # gunicorn closed an idle kept-alive connection: open another, as a browser.
                self.conn.close()
                if attempt:
                    raise
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"GET {path} answered {response.status}, not 200")
        return elapsed


def pages_of(plan: dict) -> dict[str, tuple[str, str | None]]:
    director = plan["directors"][0]["session"]
    staff = plan["staff"][0]
    lesson = plan["courses"][0]["lessons"][0]["url"]
    return {
        PLAIN: ("/", None),
        "home, signed in": ("/", staff),
        "dashboard, director": ("/dashboard/", director),
        "dashboard, staff": ("/dashboard/", staff),
        "dashboard, office": ("/dashboard/", plan["office"]),
        "proposals": ("/governance/", director),
        "policy": (f"/policies/{plan['policies'][0]}/", staff),
        "lesson": (lesson, staff),
        "announcements": ("/announcements/", plan["office"]),
    }


def one_at_a_time(host: str, page: tuple[str, str | None], requests: int) -> list[float]:
    client = Client(host)
    return [client.get(*page) for _ in range(requests)]


def at_once(host: str, page: tuple[str, str | None], clients: int, each: int):
    """``clients`` threads, ``each`` requests apiece; latencies and requests per second."""
    times: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def run():
        client = Client(host)
        client.get(*page)  # connect before the clock starts
        start.wait()
        mine = [client.get(*page) for _ in range(each)]
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return times, len(times) / (time.perf_counter() - began)


def report(title: str, results: dict[str, list[float]], rates: dict[str, list[float]] | None):
    base_median = statistics.median(results[PLAIN])
    base_p95 = pct(results[PLAIN], 95)
    base_rate = statistics.median(rates[PLAIN]) if rates else 0
    print(f"\n{title}")
    head = f"{'page':<22}{'n':>6}{'median ms':>11}{'p95 ms':>9}{'x median':>10}{'x p95':>8}"
    print(head + (f"{'req/s':>8}{'x req/s':>9}" if rates else ""))
    for name, values in results.items():
        median, p95 = statistics.median(values), pct(values, 95)
        line = (
            f"{name:<22}{len(values):>6}{median:>11.1f}{p95:>9.1f}"
            f"{median / base_median:>10.2f}{p95 / base_p95:>8.2f}"
        )
        if rates:
            rate = statistics.median(rates[name])
            line += f"{rate:>8.1f}{base_rate / rate:>9.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", action="store_true", help="migrate and seed_demo --reset first")
    parser.add_argument("--libraries", type=int, default=500)
    parser.add_argument("--patrons", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40, help="per page per round, in turn")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--each", type=int, default=10, help="requests per client per round")
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL to a database of its own (--seed wipes it)")

    work = Path(tempfile.mkdtemp(prefix="concord-pages-"))
    env = production_env(work, os.environ.get("PAGES_REDIS_URL", "redis://127.0.0.1:6379/7"))
    # No worker recycling mid-run: a fresh worker's start-up would land on whichever page was
    # being timed (production recycles every ~2,000 requests; see deploy/gunicorn.conf.py).
    env["GUNICORN_MAX_REQUESTS"] = "0"
    if args.seed:
        seed(env, args.libraries, args.patrons)
    collect_static(env)
    plan_file = work / "plan.json"
    subprocess.run(
        [PYTHON, str(Path(__file__).with_name("load.py")), "prepare", str(plan_file), "1", "1"],
        env=env,
        check=True,
    )
    pages = pages_of(json.loads(plan_file.read_text()))
    serial: dict[str, list[float]] = {name: [] for name in pages}
    crowd: dict[str, list[float]] = {name: [] for name in pages}
    rates: dict[str, list[float]] = {name: [] for name in pages}
    with gunicorn_serving(env, work) as host:
        # Every worker process and thread compiles its templates and opens its connection.
        for page in pages.values():
            at_once(host, page, args.clients, 3)
        for n in range(args.rounds):
            for name, page in pages.items():
                serial[name] += one_at_a_time(host, page, args.requests)
            for name, page in pages.items():
                times, rate = at_once(host, page, args.clients, args.each)
                crowd[name] += times
                rates[name].append(rate)
            print(f"round {n + 1} of {args.rounds} done", file=sys.stderr)
    load = os.getloadavg()
    print(f"\n{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    report("one request at a time (ratios: the page / the plain page)", serial, None)
    report(f"{args.clients} clients at once (x req/s: the plain page's / the page's)", crowd, rates)


if __name__ == "__main__":
    main()
