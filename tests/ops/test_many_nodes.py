"""Concord on many machines: two web nodes and a Celery worker, each with its own empty
VAR_DIR, sharing nothing but PostgreSQL, Redis and an S3-compatible server (moto, on
loopback). Every node runs ``portal.settings.production`` as a deployment would.

A patron file uploaded through web node A is imported by the worker and its letters PDF,
rendered by the worker, is downloaded through web node B; a badge issued on A verifies on
B; a Wagtail image uploaded on A renders on B. No node keeps any of it on its own disk.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import Client
from PIL import Image as PILImage
from pypdf import PdfReader

from plugins.patron_notices.directory.presets import FIELDS, FLAG_FIELDS
from plugins.patron_notices.models import ImportJob, Notice, PrintRun
from portal.members.roles import COMMUNICATIONS, STAFF
from tests import factories
from tests.patron_notices.conftest import KOHA_HEADER, koha_row
from tests.patron_notices.engine_support import notice
from tests.training.conftest import make_course
from tests.training.test_completion import complete

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BUCKET = "concord-nodes"
# The Redis database of this test's broker and cache: no other test's worker reads it.
REDIS_DB = 13
CSRF = secrets.token_hex(16)  # 32 characters: Django takes an unmasked secret as the token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, what: str, timeout: float = 120, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class Node:
    """A process of the deployment: its command, its own VAR_DIR, its log."""

    name: str
    var: Path
    port: int = 0
    process: subprocess.Popen | None = None
    env: dict = field(default_factory=dict)
    log: Path = field(init=False)

    def __post_init__(self):
        self.var.mkdir(parents=True)
        self.log = self.var.parent / f"{self.name}.log"

    def start(self, command: list[str], env: dict) -> None:
        self.env = {**env, "CONCORD_VAR_DIR": str(self.var)}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def files(self) -> list[str]:
        """Every file the node wrote under its VAR_DIR."""
        return sorted(str(p.relative_to(self.var)) for p in self.var.rglob("*") if p.is_file())

    def request(
        self, method: str, path: str, session: str = "", body: bytes = b"", headers=None
    ) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        cookies = f"csrftoken={CSRF}" + (f"; sessionid={session}" if session else "")
        conn.request(method, path, body=body, headers={"Cookie": cookies, **(headers or {})})
        answer = conn.getresponse()
        response = Response(answer.status, dict(answer.getheaders()), answer.read())
        conn.close()
        return response

    def get(self, path: str, session: str = "") -> Response:
        return self.request("GET", path, session)

    def post(self, path: str, fields: dict, files: dict | None = None, session: str = ""):
        """A form as a browser sends it, multipart, with the CSRF token."""
        boundary = secrets.token_hex(12)
        parts = []
        for name, value in {**fields, "csrfmiddlewaretoken": CSRF}.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        for name, (filename, content, content_type) in (files or {}).items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request(
            "POST",
            path,
            session,
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )


def _postgres_url() -> str:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail("the many-node test needs PostgreSQL (bin/test starts it)")
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _redis_url() -> str:
    url = urllib.parse.urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urllib.parse.urlunsplit(url._replace(path=f"/{REDIS_DB}"))


@pytest.fixture
def object_storage(tmp_path):
    """An S3-compatible server on loopback (moto) with an empty bucket; its endpoint."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path / "s3.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="concord",
        aws_secret_access_key="concord-secret",
    )

    def serving():
        try:
            client.list_buckets()
        except Exception:  # noqa: BLE001 - not up yet
            assert server.poll() is None, log.read_text()
            return False
        return True

    try:
        wait_for(serving, "the S3 server answers", timeout=60)
        client.create_bucket(Bucket=BUCKET)
        yield endpoint, client
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture
def deployment(object_storage, tmp_path):
    """Web nodes A and B (gunicorn, the shipped config) and one worker, all production."""
    import redis

    endpoint, _client = object_storage
    redis.Redis.from_url(_redis_url()).flushdb()
    static = tmp_path / "static"
    key = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "SECURE_", "SESSION_", "CELERY_", "AWS_", "S3_"))
        and k not in ("MEDIA_ROOT", "STATIC_ROOT", "CONCORD_VAR_DIR", "TRAINING_BADGE_KEY_FILE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        # Every node shares the secret key (sessions made here are valid on each).
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=_postgres_url(),
        REDIS_URL=_redis_url(),
        CONCORD_STORAGE="s3",
        S3_BUCKET=BUCKET,
        S3_ENDPOINT_URL=endpoint,
        S3_REGION="us-east-1",
        S3_ACCESS_KEY_ID="concord",
        S3_SECRET_ACCESS_KEY="concord-secret",
        TRAINING_BADGE_SIGNING_KEY=key,
        # Plain HTTP on loopback stands in for the TLS proxy.
        SECURE_SSL_REDIRECT="false",
        STATIC_ROOT=str(static),
        LOG_FORMAT="plain",
        PYTHONUNBUFFERED="1",
    )
    # The release: static files collected once, as the image or each web machine does.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={**env, "CONCORD_VAR_DIR": str(tmp_path / "build")},
        check=True,
        timeout=300,
    )
    a = Node("web-a", tmp_path / "a" / "var", port=free_port())
    b = Node("web-b", tmp_path / "b" / "var", port=free_port())
    worker = Node("worker", tmp_path / "w" / "var")
    nodes = (a, b, worker)
    try:
        for web in (a, b):
            web.start(
                [str(BIN / "gunicorn"), "portal.wsgi:application", "-c", "deploy/gunicorn.conf.py"],
                {
                    **env,
                    "GUNICORN_BIND": f"127.0.0.1:{web.port}",
                    "GUNICORN_WORKERS": "1",
                    "GUNICORN_THREADS": "4",
                },
            )
        worker.start(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "-n",
                "nodes-worker@%h",
            ],
            env,
        )

        def ready(web):
            def check():
                for node in nodes:
                    assert node.process.poll() is None, f"{node.name} ended:\n{node.tail()}"
                try:
                    # /readyz: the database, Redis, and a worker that answers.
                    return web.get("/readyz").status == 200
                except OSError:
                    return False

            return check

        for web in (a, b):
            wait_for(ready(web), f"{web.name} is ready", timeout=180, every=1)
        yield a, b, worker
    finally:
        for node in nodes:
            node.stop()
        redis.Redis.from_url(_redis_url()).flushdb()


def session_of(user) -> str:
    """A signed-in session, kept in the shared database: any node serves it."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def objects(client) -> list[str]:
    listing = client.list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_web_and_worker_nodes_share_only_the_services(deployment, object_storage):
    a, b, worker = deployment
    endpoint, s3 = object_storage
    factories.ensure_site()
    root = factories.consortium()
    north = factories.library(root, name="North System", code="north")
    factories.library(north, name="Main", code="main")
    factories.library(north, name="East", code="east")
    comms = factories.member(north, COMMUNICATIONS, email="comms@example.org")
    comms_session = session_of(comms)

    # -- a patron file uploaded through A, imported by the worker -----------------------
    elm = {"address": "12 Elm Road", "address2": "Flat 3", "city": "Springfield"}
    elm |= {"state": "IL", "zipcode": "62701", "country": "USA"}
    nowhere = dict.fromkeys(elm, "")
    rows = [
        koha_row(1, "1001", "Okafor", "Ada", "", **elm),
        koha_row(2, "1002", "Ruiz", "Bo", "", branch="EAST", **{**nowhere, "address": "7 High St"}),
        koha_row(3, "1003", "Nolan", "Dee", "", **nowhere),  # no address: no letter
    ]
    content = ("\n".join([KOHA_HEADER, *rows]) + "\n").encode()
    upload = a.post(
        "/patron-notices/libraries/north/import/",
        {"preset": "koha"},
        {"file": ("patrons.csv", content, "text/csv")},
        session=comms_session,
    )
    assert upload.status == 302, upload.text[-2000:]
    job_id = int(re.search(r"/imports/(\d+)/mapping/", upload.headers["Location"])[1])
    mapping = ImportJob.objects.get(pk=job_id).mapping
    fields = {f"map_{name}": mapping.get(name, "") for name in (*FIELDS, *FLAG_FIELDS)}
    started = a.post(
        f"/patron-notices/imports/{job_id}/mapping/",
        {**fields, "mode": "valid_rows"},
        session=comms_session,
    )
    assert started.status == 302, started.text[-2000:]

    def imported():
        job = ImportJob.objects.get(pk=job_id)
        assert job.status not in ("failed", "rejected"), (job.error, worker.tail())
        return job if job.status == "done" else None

    job = wait_for(imported, "the worker imports the file")
    assert job.rows_imported == 3
    assert job.file.name.startswith("patron-imports/")
    assert f"private/{job.file.name}" in objects(s3)

    # -- its letters, rendered by the worker, downloaded through B -----------------------
    n = notice(include_print=True)
    Notice.objects.filter(pk=n.pk).update(state=Notice.State.SCHEDULED)
    # The office's "send" on A (the notice's workflow is tested elsewhere): A queues the
    # print run, the worker renders it.
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from plugins.patron_notices.notices.services import do_start_sending; "
            f"do_start_sending({n.pk})",
        ],
        cwd=ROOT,
        env=a.env,
        check=True,
        timeout=120,
    )

    def rendered():
        run = PrintRun.objects.filter(notice=n).first()
        assert run is None or run.state != "failed", (run.error, worker.tail())
        return run if run is not None and run.state == "done" else None

    run = wait_for(rendered, "the worker renders the letters")
    assert run.letters == 2
    assert f"private/{run.file.name}" in objects(s3)
    letters_url = f"/patron-notices/print-runs/{run.pk}/letters.pdf"
    # Only through the portal, after the access check: nobody signed in gets a sign-in page.
    anonymous = b.get(letters_url)
    assert anonymous.status == 302 and "/accounts/login/" in anonymous.headers["Location"]
    letters = b.get(letters_url, comms_session)
    assert letters.status == 200, letters.text[-2000:]
    assert letters.body.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(letters.body)).pages)
    for expected in ("Ada Okafor", "12 Elm Road", "Springfield, IL 62701", "Bo Ruiz"):
        assert expected in text
    assert "Nolan" not in text

    # -- a badge issued on A verifies on B -----------------------------------------------
    staff = factories.member(north, STAFF, email="staff@example.org")
    certificate = complete(staff, make_course()).completion.certificate
    badge = a.get(f"/training/certificates/{certificate.code}/badge.json", session_of(staff))
    assert badge.status == 200, badge.text[-2000:]
    checked = b.post("/training/verify/", {"badge_json": badge.text})
    assert checked.status == 200, checked.text[-2000:]
    assert 'data-badge="valid"' in checked.text

    # -- a Wagtail image uploaded on A renders on B --------------------------------------
    office = factories.person("admin@example.org", is_superuser=True, is_staff=True)
    office_session = session_of(office)
    picture = io.BytesIO()
    PILImage.new("RGB", (640, 480), (200, 40, 40)).save(picture, format="PNG")
    from wagtail.images import get_image_model
    from wagtail.models import Collection

    added = a.post(
        "/admin/images/add/",
        {"title": "Reading room", "collection": Collection.get_first_root_node().pk},
        {"file": ("reading-room.png", picture.getvalue(), "image/png")},
        session=office_session,
    )
    assert added.status == 302, added.text[-3000:]
    image = get_image_model().objects.get(title="Reading room")
    assert f"media/{image.file.name}" in objects(s3)
    page = b.get(f"/admin/images/{image.pk}/", office_session)
    assert page.status == 200, page.text[-2000:]
    sources = re.findall(r'<img[^>]+src="([^"]+)"', page.text)
    renditions = [src.replace("&amp;", "&") for src in sources if src.startswith(endpoint)]
    assert renditions, sources
    rendition = urllib.parse.urlsplit(renditions[0])
    conn = http.client.HTTPConnection(rendition.hostname, rendition.port, timeout=30)
    conn.request("GET", f"{rendition.path}?{rendition.query}")
    served = conn.getresponse()
    assert served.status == 200
    assert served.read().startswith(b"\x89PNG")
    # The page's Content-Security-Policy lets it show images from the storage.
    csp = page.headers.get("Content-Security-Policy", "")
    assert endpoint in csp.split("img-src", 1)[1].split(";", 1)[0]

    # -- nothing of it on any node's own disk --------------------------------------------
    for node in (a, b, worker):
        kept = [f for f in node.files() if not f.startswith("audit/")]
        assert kept == [], (node.name, kept)
