"""A PostgreSQL cluster and a Redis of one test's own, to restart in the middle of a send.

Never the machine's shared servers: other runs use them at the same time. The cluster is
made with ``initdb`` in a temporary directory and listens on a free loopback port; Redis
is a ``redis-server`` process on another, with nothing persisted (a restart empties it,
the hardest case for the broker). Both are stopped and removed at the end, whatever
happens.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``initdb``, if PostgreSQL is installed."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; the package's own user runs them.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class ThrowawayPostgres:
    """``initdb`` into a temporary directory; ``pg_ctl`` to start, stop and restart it."""

    def __init__(self, data: str | None = None, port: int | None = None):
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
        self.owned = data is None  # made here, so removed here
        self.root = Path(data).parent if data else Path(tempfile.mkdtemp(prefix="concord-pg-"))
        self.data = Path(data) if data else self.root / "data"
        self.port = port or free_port()
        self.log = self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://concord:concord@127.0.0.1:{self.port}/concord"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            _as_postgres([str(self.bin / args[0]), *args[1:]]), capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def create(self) -> ThrowawayPostgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "concord", "-A", "trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "concord", "concord")
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=40 -c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-s",
            "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``fast``: what a restart for an upgrade does (sessions get AdminShutdown)."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-s")

    def restart(self, outage: float = 0.0) -> float:
        """Stop (fast), stay down ``outage`` seconds, start; returns when it answers again
        (``time.monotonic()``)."""
        self.stop()
        time.sleep(outage)
        self.start()
        return time.monotonic()

    def destroy(self) -> None:
        subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m",
                          "immediate", "-s"]),
            check=False, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)


class ThrowawayRedis:
    """A ``redis-server`` on a free loopback port, nothing persisted."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ThrowawayRedis:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ],  # fmt: skip
            # Not the caller's output: a server started by a bench that a test runs outlives
            # the bench, and would hold the test's pipe open.
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, 10)
        return self

    def stop(self) -> None:
        """A Redis that goes away as on a crash or failover: what it held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        else:  # started by another process (``--redis-port``): ask it to go
            subprocess.run(
                [shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "shutdown",
                 "nosave"],
                check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        self.proc = None

    def restart(self, outage: float = 0.0) -> float:
        self.stop()
        time.sleep(outage)
        self.start()
        return time.monotonic()
