"""Every provider's tracking webhook answers a call with the right basic auth without a
server error: a provider whose own key is missing is a configuration fault, logged and
answered 404 (so the provider stops calling), never a 500 it would retry for days."""

import base64
import logging

import pytest
from anymail import urls as anymail_urls
from django.urls import reverse

pytestmark = pytest.mark.django_db

SECRET = "hooks:s3cret-for-tests"
PROVIDERS = sorted(
    p.name.removesuffix("_tracking_webhook")
    for p in anymail_urls.urlpatterns
    if p.name and p.name.endswith("_tracking_webhook")
)


@pytest.fixture
def secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def auth() -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_provider_webhook_answers_a_server_error(client, secret, provider, caplog):
    url = reverse(f"patron_notices:anymail:{provider}_tracking_webhook")
    with caplog.at_level(logging.ERROR, logger="plugins.patron_notices.notices.bounces"):
        response = client.post(url, data=b"{}", content_type="application/json", **auth())
    assert response.status_code < 500, (provider, response.status_code)
    if response.status_code == 404:
        [record] = [r for r in caplog.records if r.name == "plugins.patron_notices.notices.bounces"]
        assert f"The {provider} webhook is not configured" in record.getMessage()
        assert SECRET not in record.getMessage()


def test_the_six_providers_without_their_key_are_named(client, secret):
    """The probe found six providers answering 500 without their own key (or package)."""
    missing = []
    for provider in PROVIDERS:
        url = reverse(f"patron_notices:anymail:{provider}_tracking_webhook")
        response = client.post(url, data=b"{}", content_type="application/json", **auth())
        if response.status_code == 404:
            missing.append(provider)
    assert set(missing) >= {"mailersend", "mailgun", "mandrill", "postal", "unisender_go"}
    try:
        import boto3  # noqa: F401
    except ImportError:
        assert "amazon_ses" in missing  # the sixth: Amazon SES needs boto3


@pytest.mark.parametrize("provider", ["mailjet", "resend", "amazon_ses"])
def test_a_payload_not_in_the_providers_shape_is_a_bad_request(client, secret, provider):
    url = reverse(f"patron_notices:anymail:{provider}_tracking_webhook")
    response = client.post(url, data=b"{}", content_type="application/json", **auth())
    assert response.status_code in (400, 404)  # 404: Amazon SES without boto3


def test_a_failure_to_record_a_good_event_is_still_a_500_so_the_provider_retries(
    client, secret, monkeypatch
):
    from plugins.patron_notices.notices import bounces

    def broken(event, esp_name=""):
        raise RuntimeError("database away")

    monkeypatch.setattr(bounces, "do_record_event", broken)
    client.raise_request_exception = False
    event = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "Email": "x@example.org",
        "BouncedAt": "2026-01-01T00:00:00Z",
        "MessageID": "m",
        "ID": 1,
        "Metadata": {},
    }
    response = client.post(
        reverse("patron_notices:anymail:postmark_tracking_webhook"),
        data=event,
        content_type="application/json",
        **auth(),
    )
    assert response.status_code == 500
