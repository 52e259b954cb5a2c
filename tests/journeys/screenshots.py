"""Screenshots of what each role sees, for docs/screenshots/ (run by ``bin/screenshots``).

Starts ``bin/demo`` on a throw-away SQLite database (seeded as a newcomer's is), signs in as
the office, a director and a member of staff with clicks, and saves each one's dashboard
and a vote's results at desktop (1280 px) and phone (390 px) widths.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CONCORD_E2E_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "concord-demo"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def totp(secret: str, at: float) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), as the demo's authenticator app would show."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def free_port(start: int) -> int:
    port = start
    while True:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                port += 1


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("bin/demo stopped before serving")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(1)
    sys.exit("bin/demo did not serve in time")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from portal.demo import DEMO_TOTP_SECRET, OFFICE_EMAIL

    OUT.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="concord-screenshots-"))
    port = free_port(8900)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CONCORD_VAR_DIR": str(var), "DEMO_REDIS_PORT": str(free_port(6680))}
    env.pop("DATABASE_URL", None)
    demo = subprocess.Popen(
        ["bash", str(ROOT / "bin/demo"), "--port", str(port), "--no-reload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    used: dict[str, int] = {}
    try:
        wait_until_serving(url, demo)
        import sqlite3

        with sqlite3.connect(var / "concord.sqlite3") as db:
            code = db.execute(
                "SELECT code FROM members_memberlibrary WHERE kind = 'system' ORDER BY path"
            ).fetchone()[0]
            results = db.execute(
                "SELECT id FROM governance_proposal WHERE state = 'decided' ORDER BY id"
            ).fetchone()
        people = {
            "office": (OFFICE_EMAIL, True),
            "director": (f"director.{code}@example.org", True),
            "staff": (f"staff1.{code}@example.org", False),
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for role, (email, mfa) in people.items():
                for width_name, (width, height) in WIDTHS.items():
                    context = browser.new_context(
                        base_url=url, viewport={"width": width, "height": height}
                    )
                    page = context.new_page()
                    page.goto("/accounts/login/")
                    page.get_by_label("Email").fill(email)
                    page.get_by_label("Password").fill(PASSWORD)
                    page.get_by_role("button", name="Sign in").click()
                    if mfa:
                        now = time.time()
                        if used.get(email) == int(now) // 30:  # a code counts once
                            time.sleep(30 - now % 30 + 0.5)
                        used[email] = int(time.time()) // 30
                        page.get_by_label("Code").fill(totp(DEMO_TOTP_SECRET, time.time()))
                        page.get_by_role("button", name="Sign In").click()
                    page.wait_for_url("**/dashboard/")
                    page.screenshot(path=OUT / f"dashboard-{role}-{width_name}.png", full_page=True)
                    if role == "director" and results:
                        page.goto(f"/governance/proposals/{results[0]}/results/")
                        page.screenshot(path=OUT / f"results-{width_name}.png", full_page=True)
                    context.close()
            browser.close()
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=60)
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
