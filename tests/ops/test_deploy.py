"""The deployment files: compose parses and probes /readyz, gunicorn serves with the
shipped config and logs no query strings, and the restore test restores a real dump."""

import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests import database_template
from tests.ops.conftest import badge_key_pem

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        SECRET_KEY="k3Yq-" + "x7Rz9pLm2Vw" * 6,
        ALLOWED_HOSTS="concord.example.org",
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://x@127.0.0.1/x"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        CONCORD_STORAGE="local",
        TRAINING_BADGE_SIGNING_KEY=badge_key_pem(),
    )
    env.update(extra)
    return env


def test_compose_file_parses_and_every_service_is_there():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {
        "lb",
        "db",
        "redis",
        "cache",
        "objects",
        "buckets",
        "web",
        "worker",
        "beat",
    }
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("web", "worker", "beat"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "worker" in services["worker"]["command"]
    # Many machines: web and workers keep no file of their own (object storage does), and
    # there is exactly one beat.
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["CONCORD_STORAGE"] == "s3"
        assert not any("media" in volume for volume in services[name]["volumes"])
    assert services["beat"]["deploy"]["replicas"] == 1
    # The broker never evicts a queued task; the cache, on a Redis of its own, may evict
    # (what it keeps is worked out again), and every app container uses it.
    broker, cache = services["redis"]["command"], services["cache"]["command"]
    assert broker[broker.index("--maxmemory-policy") + 1] == "noeviction"
    assert cache[cache.index("--maxmemory-policy") + 1] == "allkeys-lru" and "--maxmemory" in cache
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["REDIS_CACHE_URL"] == "redis://cache:6379/0"
        assert services[name]["depends_on"]["cache"]["condition"] == "service_healthy"
    assert "web:8000" in (DEPLOY / "nginx" / "lb.conf").read_text()
    assert "beat" in services["beat"]["command"]
    # The anchor file and the Dockerfile it names exist.
    assert (DEPLOY / "Dockerfile").read_text().startswith("# Concord")
    assert "FROM python:3.11-slim" in (DEPLOY / "Dockerfile").read_text()


def test_systemd_units_name_the_worker_queues_and_concurrency():
    worker = (DEPLOY / "systemd" / "concord-worker@.service").read_text()
    assert "--queues=%i" in worker and "--concurrency=" in worker
    assert "celery -A portal beat" in (DEPLOY / "systemd" / "concord-beat.service").read_text()
    assert "deploy/gunicorn.conf.py" in (DEPLOY / "systemd" / "concord-web.service").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_gunicorn_serves_with_the_shipped_config_and_logs_paths_without_queries(tmp_path):
    port = free_port()
    log = tmp_path / "access.log"
    env = production_env(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
        GUNICORN_ACCESS_LOG=str(log),
    )
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "portal.wsgi:application", "-c", "deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz?token=very-secret",
            headers={"Host": "concord.example.org"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    assert response.status == 200
                    assert b'"ok"' in response.read()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not answer in 60 s"
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in text
    assert "very-secret" not in text


@pytest.mark.skipif("postgres" not in os.environ.get("DATABASE_URL", ""), reason="needs PostgreSQL")
@pytest.mark.slow
def test_restore_test_script_dumps_drops_restores_and_verifies_the_chain(tmp_path):
    base = urllib.parse.urlparse(os.environ["DATABASE_URL"])
    name = f"concord_restore_{uuid.uuid4().hex[:8]}"
    admin_url = base._replace(path="/postgres").geturl()
    url = base._replace(path=f"/{name}").geturl()
    env = production_env(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="portal.settings.test")
    # A copy of the run's migrated template: the migrations themselves are not what this
    # drill is about, and running them all again cost half its time.
    database_template.create_copy(os.environ["DATABASE_URL"], name)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from portal.audit.services import record\n"
             "for n in range(3): record('restore.test', data={'n': n})"],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        result = subprocess.run(
            ["bash", str(DEPLOY / "restore-test.sh")],
            cwd=ROOT,
            env={**env, "PYTHON": sys.executable, "DUMP": str(tmp_path / "concord.dump")},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "verify before: Audit chain intact: 3 entries." in result.stdout
        assert result.stdout.rstrip().endswith("Audit chain intact: 3 entries.")
        # Tampering after a restore is caught: the script would fail.
        subprocess.run(
            ["psql", url, "-q", "-c", "UPDATE audit_auditentry SET action = 'x' WHERE id = "
             "(SELECT min(id) FROM audit_auditentry)"],
            check=True,
        )  # fmt: skip
        tampered = subprocess.run(
            ["bash", str(DEPLOY / "restore-test.sh")],
            cwd=ROOT,
            env={**env, "PYTHON": sys.executable, "DUMP": str(tmp_path / "again.dump")},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert tampered.returncode != 0
        assert "Audit chain broken" in tampered.stderr
    finally:
        subprocess.run(
            ["psql", admin_url, "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=False,
        )
