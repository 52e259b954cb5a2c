"""Certificate verification (genuine, unknown/forged, revoked, expired), the PDF with
its QR code, and the signed Open Badges 3.0 credential."""

import copy
import io
from datetime import timedelta

import pymupdf
import pytest
import zxingcpp
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from knowledge_base.training import badges
from knowledge_base.training.models import Certificate
from knowledge_base.training.services.certificates import check_revoke, do_revoke

from .test_completion import complete

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def badge_key(settings, tmp_path):
    settings.TRAINING_BADGE_KEY_FILE = tmp_path / "keys" / "badge.pem"
    badges._load_key.cache_clear()
    yield
    badges._load_key.cache_clear()


@pytest.fixture
def certificate(world, course):
    return complete(world["staff_a"], course).completion.certificate


def verify_page(client, code):
    return client.get(f"/training/verify/{code}/")


def test_genuine(client, certificate):
    response = verify_page(client, certificate.code)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-status="genuine"' in html and "Ada Staff" in html
    assert certificate.user.email not in html


def test_forged_code_is_unknown(client, certificate):
    forged = certificate.code[:-1] + ("A" if certificate.code[-1] != "A" else "B")
    response = verify_page(client, forged)
    assert response.status_code == 404
    assert 'data-status="unknown"' in response.content.decode()


def test_lowercase_and_form_lookup_redirect_to_the_canonical_url(client, certificate):
    response = client.get("/training/verify/", {"code": certificate.code.lower()})
    assert response.status_code == 302
    assert response["Location"].endswith(f"/training/verify/{certificate.code}/")


def test_revoked(client, world, certificate):
    with pytest.raises(PermissionDenied):
        check_revoke(world["director_a"], certificate)
    check_revoke(world["office"], certificate)
    do_revoke(world["office"], certificate, "Quiz answers were shared")
    assert 'data-status="revoked"' in verify_page(client, certificate.code).content.decode()


def test_expired(client, certificate):
    Certificate.objects.filter(pk=certificate.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    assert 'data-status="expired"' in verify_page(client, certificate.code).content.decode()


def test_pdf_has_person_library_course_dates_code_and_qr(client, world, certificate):
    client.force_login(world["staff_a"])
    response = client.get(f"/training/certificates/{certificate.code}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    for expected in ("Ada Staff", certificate.library_name, "Patron privacy", certificate.code):
        assert expected in text
    assert "no expiry" in text
    assert f"/training/verify/{certificate.code}/" in text


def test_the_printed_qr_code_encodes_the_verification_url(client, world, certificate):
    # Read as a phone would: the PDF's page rendered to pixels (PyMuPDF), the code found
    # and decoded by ZXing, not by the library that drew it.
    client.force_login(world["staff_a"])
    response = client.get(f"/training/certificates/{certificate.code}/pdf/")
    with pymupdf.open(stream=response.content, filetype="pdf") as pdf:
        pixels = pdf[0].get_pixmap(dpi=150)
    image = Image.frombytes("RGB", (pixels.width, pixels.height), pixels.samples)
    found = [code.text for code in zxingcpp.read_barcodes(image)]
    assert found == [f"http://testserver/training/verify/{certificate.code}/"]


def test_certificate_pdf_is_private(client, world, certificate):
    client.force_login(world["staff_b"])
    assert client.get(f"/training/certificates/{certificate.code}/pdf/").status_code == 404
    client.force_login(world["director_a"])  # the holder's director may
    assert client.get(f"/training/certificates/{certificate.code}/pdf/").status_code == 200


def test_open_badge_is_signed_and_verifies(client, world, certificate):
    client.force_login(world["staff_a"])
    response = client.get(f"/training/certificates/{certificate.code}/badge.json")
    assert response.status_code == 200
    credential = response.json()
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["credentialSubject"]["achievement"]["name"] == "Patron privacy"
    assert credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert credential["issuer"]["id"] == badges.issuer_did()
    assert badges.verify(credential)
    # The person's email never appears in clear: it travels as a salted hash.
    assert world["staff_a"].email not in response.content.decode()


def test_tampered_badges_do_not_verify(certificate):
    # A forged key and the eddsa-jcs-2022 badges of before: tests/training/test_open_badges.py.
    credential = badges.credential(certificate)
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["name"] = "Mallory"
    assert not badges.verify(tampered)
    assert not badges.verify({"proof": {}})


def test_key_is_generated_once_with_private_mode(settings):
    first = badges.issuer_did()
    badges._load_key.cache_clear()
    assert badges.issuer_did() == first
    assert (settings.TRAINING_BADGE_KEY_FILE.stat().st_mode & 0o777) == 0o600


def test_base58_round_trip():
    for data in (b"", b"\0\0abc", bytes(range(40))):
        assert badges.b58decode(badges.b58encode(data)) == data
