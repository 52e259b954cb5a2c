"""Run the checkers in tests/node that Concord did not write: Digital Bazaar's credential
verifier, Mozilla's ical.js and the W3C Nu HTML checker (vnu.jar, on Java).

``bin/test`` installs them (``npm ci`` in tests/node; node and Java from Debian when the
machine has none). A missing one fails the test that needs it: it never skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

TOOLS = Path(__file__).resolve().parent / "node"
VNU_JAR = TOOLS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def _require(program: str) -> str:
    path = shutil.which(program)
    assert path, f"{program} is needed for the tests' independent checkers (bin/test installs it)"
    return path


def _require_packages(marker: Path) -> None:
    assert marker.exists(), (
        f"{marker.relative_to(TOOLS)} is missing: run `npm ci` in tests/node (bin/test does)"
    )


def node(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``tests/node/<script>`` with ``args``; the caller reads stdout and returncode."""
    _require_packages(TOOLS / "node_modules" / ".package-lock.json")
    return subprocess.run(
        [_require("node"), str(TOOLS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def vnu(paths: list[Path]) -> list[dict]:
    """The W3C Nu HTML checker's messages on the HTML files ``paths`` (JSON output)."""
    _require_packages(VNU_JAR)
    run = subprocess.run(
        [_require("java"), "-jar", str(VNU_JAR), "--format", "json", "--exit-zero-always"]
        + [str(path) for path in paths],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(run.stderr)["messages"]
