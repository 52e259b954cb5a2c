"""Security headers, the deployment check, and upload limits."""

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from wagtail.images import get_image_model
from wagtail.images.forms import get_image_form

from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories
from tests.ops.conftest import badge_key_pem

ROOT = Path(__file__).resolve().parents[2]


def large_png(size: int) -> bytes:
    """A real PNG of at least ``size`` bytes: uncompressed noise."""
    side = math.isqrt(size // 3) + 1
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=0)
    return out.getvalue()


def production_env(**extra) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECURE_", "SESSION_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        SECRET_KEY="k3Yq-" + "x7Rz9pLm2Vw" * 6,
        ALLOWED_HOSTS="concord.example.org",
        DATABASE_URL="postgres://concord:secret@db.example.org:5432/concord",
        REDIS_URL="redis://redis.example.org:6379/0",
        AUDIT_CHAIN_KEY="a9Fq-" + "c2Lr8pWm4Zx" * 6,
        BALLOT_SEALING_KEY="b4Lk-" + "q8Wn3rTz7Yd" * 6,
        CONCORD_STORAGE="s3",
        S3_BUCKET="concord",
        TRAINING_BADGE_SIGNING_KEY=badge_key_pem(),
    )
    env.update(extra)
    return env


@pytest.mark.slow
def test_check_deploy_reports_no_errors_and_no_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # One silenced on purpose: the deploy check's wish for X-Frame-Options DENY, where
    # SAMEORIGIN lets the admin preview the site's own pages (portal/settings/production.py).
    assert "System check identified no issues (1 silenced)." in result.stdout
    silenced = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import "
            "settings; print(settings.SILENCED_SYSTEM_CHECKS)",
        ],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert silenced.stdout.strip() == "['security.W019']"


@pytest.mark.slow
def test_check_deploy_warns_without_the_audit_key_or_checkpoints():
    env = production_env(AUDIT_CHECKPOINT_FILE="")
    del env["AUDIT_CHAIN_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "audit.W001" in result.stderr + result.stdout
    assert "audit.W002" in result.stderr + result.stdout


@pytest.mark.slow
def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


@pytest.mark.django_db
def test_portal_pages_send_a_strict_policy_and_the_other_headers(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'self'"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_a_page_that_uses_the_nonce_gets_it_in_its_policy(rf):
    from django.http import HttpResponse

    from portal.security import SecurityHeadersMiddleware

    def view(request):
        return HttpResponse(f'<script nonce="{request.csp_nonce}"></script>')

    request = rf.get("/patron-notices/imports/1/")
    response = SecurityHeadersMiddleware(view)(request)
    nonce = response.content.decode().split('"')[1]
    assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_wagtail_admin_may_run_its_inline_scripts_and_nothing_from_elsewhere(client):
    office = factories.member(factories.consortium(), CONSORTIUM_ADMIN, verified=True)
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=office, type=Authenticator.Type.TOTP, data={"secret": "x"})
    client.force_login(office)
    response = client.get("/admin/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self' 'unsafe-inline'"
    assert directives["default-src"] == "'self'"


def test_sessions_expire():
    assert 0 < settings.SESSION_COOKIE_AGE <= 12 * 60 * 60
    assert settings.SESSION_COOKIE_HTTPONLY


@pytest.mark.django_db
def test_image_uploads_are_checked_by_type_and_size():
    form_class = get_image_form(get_image_model())
    svg = SimpleUploadedFile(
        "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    )
    form = form_class(data={"title": "Logo"}, files={"file": svg})
    assert not form.is_valid()
    assert "file" in form.errors

    png = SimpleUploadedFile("dot.png", large_png(12), content_type="image/png")
    assert form_class(data={"title": "Dot"}, files={"file": png}).is_valid()

    big = SimpleUploadedFile(
        "dot.png", large_png(settings.WAGTAILIMAGES_MAX_UPLOAD_SIZE + 1), content_type="image/png"
    )
    form = form_class(data={"title": "Dot"}, files={"file": big})
    assert not form.is_valid()
    assert "too big" in str(form.errors["file"])


@pytest.mark.django_db
def test_request_bodies_over_the_limit_are_refused(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post(
        "/accounts/login/", data="x" * 2048, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
