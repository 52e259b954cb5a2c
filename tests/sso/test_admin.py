"""The "Single sign-on" admin: the office for any library, a director for their own."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEntry
from portal.sso.forms import IdentityProviderForm
from portal.sso.models import IdentityProvider
from portal.sso.services import do_save_provider
from tests import factories


@pytest.fixture
def libraries(db):
    consortium = factories.consortium()
    return [factories.library(consortium, name=f"Library {n}") for n in (1, 2)]


def form_data(library, **changes):
    return {
        "library": library.pk,
        "name": "Northfield sign-in",
        "protocol": "openid_connect",
        "email_domains": "northfield.example.edu",
        "issuer": "https://login.northfield.example.edu",
        "client_id": "concord",
        "client_secret": "s3cret",
        "entity_id": "",
        "metadata_url": "",
        "metadata_xml": "",
        **changes,
    }


def admin_client(client, user):
    factories.totp(user)
    client.force_login(user)
    return client


def test_the_office_connects_a_library_provider(
    client, libraries, django_capture_on_commit_callbacks
):
    office = factories.member(libraries[0].get_root(), "consortium_admin", is_superuser=True)
    admin_client(client, office)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("identity_providers:add"), form_data(libraries[0]))

    assert response.status_code == 302
    provider = IdentityProvider.objects.get()
    assert provider.social_app.provider == "openid_connect"
    entry = AuditEntry.objects.get(action="sso.provider.connected")
    assert entry.library == libraries[0]
    assert entry.data["domains"] == ["northfield.example.edu"]


def test_a_missing_client_secret_is_shown_beside_the_field(client, libraries):
    office = factories.member(libraries[0].get_root(), "consortium_admin", is_superuser=True)
    admin_client(client, office)

    data = form_data(libraries[0], client_secret="")
    response = client.post(reverse("identity_providers:add"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["client_secret"] == ["OpenID Connect needs this."]
    assert not IdentityProvider.objects.exists()


def test_a_director_may_not_touch_another_librarys_provider(libraries):
    mine, theirs = libraries
    office = factories.member(mine.get_root(), "consortium_admin")
    provider = do_save_provider(
        office,
        IdentityProvider(
            library=theirs,
            name="Theirs",
            protocol="openid_connect",
            email_domains="theirs.example.org",
            issuer="https://login.theirs.example.org",
            client_id="c",
            client_secret="s",
        ),
    )
    director = factories.member(mine, "director")

    data = form_data(theirs, email_domains="mine.example.org")
    form = IdentityProviderForm(data=data, instance=provider, for_user=director)
    assert not form.is_valid()
    # Their own library is the only one offered.
    assert list(form.fields["library"].queryset) == [mine]


def test_a_director_opens_the_admin_and_sees_only_their_own_librarys_provider(client, libraries):
    mine, theirs = libraries
    office = factories.member(mine.get_root(), "consortium_admin")
    for library, domain in ((mine, "mine.example.org"), (theirs, "theirs.example.org")):
        do_save_provider(
            office,
            IdentityProvider(
                library=library,
                name=f"{library.name} sign-in",
                protocol="openid_connect",
                email_domains=domain,
                issuer=f"https://login.{domain}",
                client_id="c",
                client_secret="s",
            ),
        )
    director = factories.member(mine, "director")
    admin_client(client, director)

    listing = client.get(reverse("identity_providers:index"))

    assert listing.status_code == 200
    assert "Library 1 sign-in" in listing.text
    assert "Library 2 sign-in" not in listing.text
    theirs_provider = IdentityProvider.objects.get(library=theirs)
    edit = client.get(reverse("identity_providers:edit", args=[theirs_provider.pk]))
    assert edit.status_code in (302, 403)
    # Staff of the same library do not get in at all.
    client.force_login(factories.member(mine, "staff"))
    assert client.get(reverse("identity_providers:index")).status_code in (302, 403)
