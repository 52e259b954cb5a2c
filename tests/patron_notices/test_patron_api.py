"""Patron sync API: scope, one library per token, validation by index and field, idempotent
batches, contacts across libraries, expiry, audit with counts only."""

import logging

import pytest

from plugins.patron_notices.models import Contact, Patron, PostalAddress
from portal.audit.models import AuditEntry
from portal.members.roles import CONSORTIUM_ADMIN
from tests import factories
from tests.api_support import api_token, fresh_rate_limits  # noqa: F401 - fresh_rate_limits: autouse

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/patron-notices/patrons/batch"
EXPIRE = "/api/v1/patron-notices/patrons/expire"


@pytest.fixture
def tokens(libs):
    office = factories.member(libs["root"], CONSORTIUM_ADMIN, email="office@example.org")

    def issue(library, scopes=("patrons:write",)):
        return api_token(office, library, scopes, name="ILS")

    return {
        "north": issue(libs["north"]),
        "south": issue(libs["south"]),
        "north_read": issue(libs["north"], ("library:read",)),
    }


def post(client, url, token, body):
    return client.post(
        url, body, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def patron(card, email="", **fields):
    return {
        "card_number": card,
        "last_name": "Okafor",
        "first_name": "Ada",
        "email": email,
        **fields,
    }


def test_the_scope_is_required(client, tokens):
    body = {"patrons": [patron("N1")]}
    assert post(client, BATCH, tokens["north_read"], body).status_code == 403
    assert post(client, EXPIRE, tokens["north_read"], {"card_numbers": ["N1"]}).status_code == 403
    assert client.post(BATCH, body, content_type="application/json").status_code == 401
    assert not Patron.objects.exists()


def test_a_batch_creates_then_a_resend_changes_nothing(client, libs, tokens):
    body = {
        "patrons": [
            patron("N1", "Ada@Example.org", branch="EAST", expires_on="2027-12-31", consent=True),
            patron("N2", "ada@example.org", language="fr", consent=False),
            patron("N3"),
        ]
    }
    response = post(client, BATCH, tokens["north"], body)
    assert response.status_code == 200
    assert response.json() == {"received": 3, "created": 3, "updated": 0, "unchanged": 0}
    n1 = Patron.objects.get(card_number="N1")
    assert (n1.library, n1.home_branch, str(n1.expires_on)) == (
        libs["north"],
        libs["east"],
        "2027-12-31",
    )
    assert n1.consent_given_at is not None and n1.consent_source.startswith("api ")
    n2 = Patron.objects.get(card_number="N2")
    assert (n2.preferred_language, n2.consent_given_at) == ("fr", None)
    # Two cards, one address: one contact.
    assert n1.contact_id == n2.contact_id and Contact.objects.count() == 1
    assert Patron.objects.get(card_number="N3").contact is None

    snapshot = list(Patron.objects.order_by("pk").values())
    again = post(client, BATCH, tokens["north"], body)
    assert again.json() == {"received": 3, "created": 0, "updated": 0, "unchanged": 3}
    assert list(Patron.objects.order_by("pk").values()) == snapshot

    body["patrons"][2]["email"] = "chen@example.org"
    changed = post(client, BATCH, tokens["north"], body)
    assert changed.json() == {"received": 3, "created": 0, "updated": 1, "unchanged": 2}
    assert Patron.objects.get(card_number="N3").contact.email == "chen@example.org"


def test_contacts_are_shared_across_libraries(client, tokens):
    post(client, BATCH, tokens["north"], {"patrons": [patron("N1", "ada@example.org")]})
    post(client, BATCH, tokens["south"], {"patrons": [patron("S1", "ADA@example.org")]})
    contacts = set(Patron.objects.values_list("contact_id", flat=True))
    assert len(contacts) == 1 and Contact.objects.get().email == "ada@example.org"


def test_a_bad_batch_names_index_and_field_and_writes_nothing(client, tokens):
    body = {
        "patrons": [
            patron("N1", "ada@example.org"),
            patron("N2", "not-an-address"),
            patron("N3", branch="SOUTH"),  # another library's code is no branch of ours
            patron("N4", expires_on="31/12/2027"),
            patron("N1"),
            patron(""),
        ]
    }
    response = post(client, BATCH, tokens["north"], body)
    assert response.status_code == 422
    problems = [(p["index"], p["field"], p["code"]) for p in response.json()["problems"]]
    assert problems == [
        (1, "email", "email_invalid"),
        (2, "branch", "branch_unknown"),
        (3, "expires_on", "date_invalid"),
        (4, "card_number", "card_duplicate"),
        (5, "card_number", "card_missing"),
    ]
    assert "index 0" in response.json()["problems"][3]["message"]
    # The answer quotes no value back.
    assert "not-an-address" not in response.content.decode()
    assert not Patron.objects.exists() and not Contact.objects.exists()
    entry = AuditEntry.objects.get(action="patron_notices.api_batch_refused")
    assert entry.data["received"] == 6 and entry.data["problems"] == 5


def test_batches_are_limited_and_typed(client, tokens):
    too_many = {"patrons": [patron(f"N{i}") for i in range(1001)]}
    assert post(client, BATCH, tokens["north"], too_many).status_code == 422
    wrong_type = {"patrons": [patron("N1", email=["a@example.org"])]}
    response = post(client, BATCH, tokens["north"], wrong_type)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-2:] == [0, "email"]
    assert not Patron.objects.exists()


def test_a_token_never_touches_another_library(client, libs, tokens):
    post(client, BATCH, tokens["south"], {"patrons": [patron("S1", "s@example.org")]})
    south = Patron.objects.get(card_number="S1")
    # The same card number from north's token is north's own, new patron.
    response = post(client, BATCH, tokens["north"], {"patrons": [patron("S1", "x@example.org")]})
    assert response.json()["created"] == 1
    assert Patron.objects.filter(card_number="S1").count() == 2
    south.refresh_from_db()
    assert (south.library, south.email, south.expired_at) == (libs["south"], "s@example.org", None)
    # Expiring by name or by full sync from north reaches north's patrons only.
    assert post(client, EXPIRE, tokens["north"], {"card_numbers": ["S1"]}).json() == {"expired": 1}
    post(client, BATCH, tokens["north"], {"patrons": [patron("N1")]})
    body = {"card_numbers": ["N1"], "full_sync": True}
    assert post(client, EXPIRE, tokens["north"], body).json() == {"expired": 0}
    south.refresh_from_db()
    assert south.expired_at is None
    assert Patron.objects.get(library=libs["north"], card_number="S1").expired_at is not None


def test_expire_by_name_and_by_full_sync(client, tokens):
    cards = [patron(f"N{i}") for i in range(1, 6)]
    post(client, BATCH, tokens["north"], {"patrons": cards})
    by_name = post(client, EXPIRE, tokens["north"], {"card_numbers": ["N1", "N2", "NOPE"]})
    assert by_name.json() == {"expired": 2}
    full = post(client, EXPIRE, tokens["north"], {"card_numbers": ["N3"], "full_sync": True})
    assert full.json() == {"expired": 2}  # N4 and N5; N1 and N2 were already expired
    live = Patron.objects.filter(expired_at__isnull=True).values_list("card_number", flat=True)
    assert list(live) == ["N3"]
    # A returning card comes back to life with the next batch.
    post(client, BATCH, tokens["north"], {"patrons": [patron("N1")]})
    assert Patron.objects.get(card_number="N1").expired_at is None
    # Nothing kept is refused rather than expiring the whole directory.
    empty = post(client, EXPIRE, tokens["north"], {"card_numbers": [], "full_sync": True})
    assert empty.status_code == 422
    assert Patron.objects.filter(expired_at__isnull=True).count() == 2


def test_every_call_is_audited_with_counts_only(client, libs, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    post(client, BATCH, tokens["north"], {"patrons": [patron("N1", "ada@example.org")]})
    post(client, BATCH, tokens["north"], {"patrons": [patron("N2", "bad")]})
    post(client, EXPIRE, tokens["north"], {"card_numbers": ["N1"]})
    entries = list(AuditEntry.objects.filter(action__startswith="patron_notices.api_"))
    assert [e.action for e in entries] == [
        "patron_notices.api_batch",
        "patron_notices.api_batch_refused",
        "patron_notices.api_expire",
    ]
    assert all(e.library_id == libs["north"].pk for e in entries)
    assert entries[0].data["created"] == 1 and entries[2].data["expired"] == 1
    text = str([e.data for e in entries]) + caplog.text
    for personal in ("ada@example.org", "Okafor", "N1", "N2", '"bad"'):
        assert personal not in text


def test_text_postgresql_cannot_store_is_refused_not_crashed(client, tokens):
    body = {"patrons": [patron("N1", first_name="A\x00B"), patron("N2", last_name="\ud800")]}
    response = post(client, BATCH, tokens["north"], body)
    assert response.status_code == 422
    problems = [(p["index"], p["field"], p["code"]) for p in response.json()["problems"]]
    assert problems == [
        (0, "first_name", "character_invalid"),
        (1, "last_name", "character_invalid"),
    ]
    long_lower = "İ" * 200 + "@example.org"  # 212 characters, 412 once lower-cased
    response = post(client, BATCH, tokens["north"], {"patrons": [patron("N3", long_lower)]})
    assert response.json()["problems"][0]["code"] == "email_invalid"
    assert post(client, EXPIRE, tokens["north"], {"card_numbers": ["N\x001"]}).status_code == 422
    assert not Patron.objects.exists()


ELM = {
    "address_line1": "12 Elm Road",
    "address_line2": "",
    "city": "Springfield",
    "region": "IL",
    "postcode": "62701",
    "country": "",
}


def test_postal_addresses_are_synced_and_resending_changes_nothing(client, tokens):
    def lines():
        return dict(PostalAddress.objects.values_list("patron__card_number", "lines"))

    body = {"patrons": [patron("N1", **ELM), patron("N2", **{**ELM, "address_line1": "9 Oak"})]}
    assert post(client, BATCH, tokens["north"], body).json()["created"] == 2
    assert lines() == {
        "N1": "12 Elm Road\nSpringfield, IL 62701",
        "N2": "9 Oak\nSpringfield, IL 62701",
    }
    rows = list(PostalAddress.objects.order_by("pk").values_list("pk", "patron_id", "lines"))
    again = post(client, BATCH, tokens["north"], body)
    assert again.json() == {"received": 2, "created": 0, "updated": 0, "unchanged": 2}
    assert (
        list(PostalAddress.objects.order_by("pk").values_list("pk", "patron_id", "lines")) == rows
    )
    # Only the address changes: the patron counts as updated.
    body["patrons"][0]["address_line2"] = "Flat 3"
    changed = post(client, BATCH, tokens["north"], body)
    assert changed.json() == {"received": 2, "created": 0, "updated": 1, "unchanged": 1}
    assert lines()["N1"] == "12 Elm Road\nFlat 3\nSpringfield, IL 62701"
    # Without address fields the address stays; with them all empty it goes.
    keep = post(client, BATCH, tokens["north"], {"patrons": [patron("N1"), patron("N2")]})
    assert keep.json()["unchanged"] == 2 and set(lines()) == {"N1", "N2"}
    empty = dict.fromkeys(ELM, "")
    gone = post(client, BATCH, tokens["north"], {"patrons": [patron("N2", **empty)]})
    assert gone.json()["updated"] == 1 and set(lines()) == {"N1"}
    # Another library's token cannot reach these addresses: its N1 is its own card.
    post(client, BATCH, tokens["south"], {"patrons": [patron("N1", **empty)]})
    assert lines()["N1"].startswith("12 Elm Road")


def test_a_too_long_address_names_index_and_field(client, tokens):
    body = {
        "patrons": [
            patron("N1", **ELM),
            patron("N2", **{**ELM, "postcode": "9" * 26}),
            patron("N3", **{**ELM, "address_line1": "x" * 101}),
        ]
    }
    response = post(client, BATCH, tokens["north"], body)
    assert response.status_code == 422
    problems = [(p["index"], p["field"], p["code"]) for p in response.json()["problems"]]
    assert problems == [
        (1, "postcode", "address_too_long"),
        (2, "address_line1", "address_too_long"),
    ]
    assert "x" * 10 not in response.content.decode()
    assert not Patron.objects.exists() and not PostalAddress.objects.exists()
