"""Production logs are JSON lines with no patron or staff personal data in them."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.observability.logging import JSONFormatter, MaskPersonalData
from tests.ops.conftest import badge_key_pem

ROOT = Path(__file__).resolve().parents[2]


def capture(logger_name="concord.test"):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(MaskPersonalData())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def test_a_log_line_is_json_with_personal_data_masked():
    logger, stream = capture()
    logger.info(
        "sent notice to %s (tel %s)",
        "pat.reader@example.org",
        "+1 (555) 123-4567",
        extra={"email": "pat.reader@example.org", "phone": "555 1234", "notice_id": 42,
               "patron": {"full_name": "Pat Reader", "library": "riverside"}},
    )  # fmt: skip
    line = stream.getvalue().strip()
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "concord.test"
    assert entry["message"] == "sent notice to [redacted] (tel [redacted])"
    assert entry["email"] == "[redacted]"
    assert entry["phone"] == "[redacted]"
    assert entry["notice_id"] == 42
    assert entry["patron"] == {"full_name": "[redacted]", "library": "riverside"}
    for secret in ("pat.reader", "555", "Pat Reader"):
        assert secret not in line


def test_exceptions_are_logged_without_the_addresses_in_them():
    logger, stream = capture("concord.test.exc")
    try:
        raise ValueError("bounce from someone@example.net")
    except ValueError:
        logger.exception("delivery failed")
    entry = json.loads(stream.getvalue())
    assert "ValueError" in entry["exception"]
    assert "someone@example.net" not in entry["exception"]
    assert "[redacted]" in entry["exception"]


@pytest.mark.slow
def test_production_settings_log_json_through_the_filter():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        SECRET_KEY="k3Yq-" + "x7Rz9pLm2Vw" * 6,
        ALLOWED_HOSTS="concord.example.org",
        DATABASE_URL="postgres://x@127.0.0.1/x",
        REDIS_URL="redis://127.0.0.1:6379/0",
        CONCORD_STORAGE="local",
        TRAINING_BADGE_SIGNING_KEY=badge_key_pem(),
    )
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('concord').warning('login failed for a@b.example.org')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stderr.strip().splitlines()[-1])
    assert entry["message"] == "login failed for [redacted]"
    assert entry["level"] == "WARNING"
