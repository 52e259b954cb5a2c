"""Where Concord keeps files, and the badge key every machine shares: production refuses to
start without either; object storage keeps personal data apart, behind short-lived URLs."""

import io
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from moto import mock_aws
from PIL import Image
from pypdf import PdfReader

from plugins.patron_notices.models import ImportJob, PrintRun
from portal.pdf import PDFResourceRefused, render_pdf
from tests.ops.conftest import badge_key_pem
from tests.ops.test_deploy import production_env

ROOT = Path(__file__).resolve().parents[2]

# What the settings chose, printed by a process with the production settings.
SHOW = (
    "import json, django; django.setup(); "
    "from django.conf import settings; from django.core.files.storage import storages; "
    "from plugins.patron_notices.models import PrintRun; "
    "print(json.dumps({'storages': settings.STORAGES, "
    "'img': settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'], "
    "'letters': PrintRun._meta.get_field('file').storage.url('print-runs/x.pdf'), "
    "'media': storages['default'].url('images/x.png'), "
    "'key': settings.TRAINING_BADGE_SIGNING_KEY}, default=str))"
)


def production(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env=production_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def refused(result) -> str:
    assert result.returncode != 0
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_production_refuses_to_start_without_a_storage():
    assert "CONCORD_STORAGE must be set" in refused(production(CONCORD_STORAGE=""))
    assert "CONCORD_STORAGE must be s3 or local" in refused(production(CONCORD_STORAGE="nfs"))
    assert "S3_BUCKET must be set" in refused(production(CONCORD_STORAGE="s3", S3_BUCKET=""))


@pytest.mark.slow
def test_production_refuses_to_start_without_a_shared_badge_key(tmp_path):
    assert "Set TRAINING_BADGE_SIGNING_KEY" in refused(production(TRAINING_BADGE_SIGNING_KEY=""))
    assert "not a PEM key" in refused(production(TRAINING_BADGE_SIGNING_KEY="secret"))
    missing = tmp_path / "missing.pem"
    result = production(TRAINING_BADGE_SIGNING_KEY="", TRAINING_BADGE_KEY_FILE=str(missing))
    assert "TRAINING_BADGE_KEY_FILE cannot be read" in refused(result)
    # No key is ever generated on a production machine.
    assert not (tmp_path / "keys").exists()


@pytest.mark.slow
def test_the_key_comes_from_a_mounted_secret_or_an_escaped_variable(tmp_path):
    pem = badge_key_pem()
    secret = tmp_path / "badge.pem"
    secret.write_text(pem)
    result = production(TRAINING_BADGE_SIGNING_KEY="", TRAINING_BADGE_KEY_FILE=str(secret))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["key"] == pem
    # An env file holds one line: the PEM's newlines written as \n.
    result = production(TRAINING_BADGE_SIGNING_KEY=pem.replace("\n", "\\n"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["key"] == pem


@pytest.mark.slow
def test_object_storage_keeps_personal_data_apart_behind_five_minute_urls():
    result = production(
        CONCORD_STORAGE="s3",
        S3_BUCKET="concord-media",
        S3_PRIVATE_BUCKET="concord-private",
        S3_ENDPOINT_URL="https://objects.example.org",
        S3_ACCESS_KEY_ID="id",
        S3_SECRET_ACCESS_KEY="secret",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    default, private = shown["storages"]["default"], shown["storages"]["private"]
    assert default["BACKEND"] == private["BACKEND"] == "storages.backends.s3.S3Storage"
    assert (default["OPTIONS"]["bucket_name"], default["OPTIONS"]["location"]) == (
        "concord-media",
        "media",
    )
    assert private["OPTIONS"]["bucket_name"] == "concord-private"
    assert private["OPTIONS"]["default_acl"] is None
    letters = shown["letters"]
    assert letters.startswith("https://objects.example.org/concord-private/print-runs/x.pdf?")
    assert "X-Amz-Expires=300" in letters and "X-Amz-Signature=" in letters
    assert "X-Amz-Signature=" in shown["media"]
    assert "https://objects.example.org" in shown["img"]
    # One bucket: personal data under a prefix of its own.
    result = production(
        CONCORD_STORAGE="s3",
        S3_BUCKET="concord",
        S3_PRIVATE_BUCKET="",
        S3_ACCESS_KEY_ID="id",
        S3_SECRET_ACCESS_KEY="secret",
    )
    assert result.returncode == 0, result.stderr
    private = json.loads(result.stdout)["storages"]["private"]["OPTIONS"]
    assert (private["bucket_name"], private["location"]) == ("concord", "private")


@pytest.mark.parametrize("model", [ImportJob, PrintRun])
def test_the_demo_keeps_personal_data_on_disk_outside_media(model, settings):
    storage = model._meta.get_field("file").storage
    assert isinstance(storage, FileSystemStorage)
    assert Path(storage.location) == Path(settings.VAR_DIR) / "private"
    assert not Path(storage.location).is_relative_to(settings.MEDIA_ROOT)


@pytest.mark.django_db  # the PDF's header carries the consortium's name
def test_pdfs_show_images_kept_in_object_storage(settings):
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "DIRS": [*settings.TEMPLATES[0]["DIRS"], ROOT / "tests" / "core" / "templates"],
        }
    ]
    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(picture, format="PNG")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="concord")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "concord",
                    "location": "media",
                    "region_name": "us-east-1",
                    "access_key": "id",
                    "secret_key": "secret",
                },
            },
        }
        name = storages["default"].save("images/reading-room.png", ContentFile(picture.getvalue()))
        url = storages["default"].url(name)  # signed, as a page embeds it
        context = {"title": "x", "quorum": "no"}
        pdf = render_pdf("pdf_test/sample.html", {**context, "remote_image": url})
        images = PdfReader(io.BytesIO(pdf)).pages[0].images
        assert [image.image.size for image in images] == [(40, 30)]
        # Another bucket, or the private prefix of this one, is not the portal's media.
        for other in (
            url.replace("://concord.", "://someone-else."),
            url.replace("/media/", "/private/"),
        ):
            assert other != url
            with pytest.raises(PDFResourceRefused):
                render_pdf("pdf_test/sample.html", {**context, "remote_image": other})
