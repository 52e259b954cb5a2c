"""allauth's forms in the consortium's words."""

from allauth.mfa.webauthn.forms import AddWebAuthnForm
from django.utils.translation import gettext_lazy as _


class AddPasskeyForm(AddWebAuthnForm):
    """A passkey or security key; by default one that signs the person in on its own."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].label = _("Name")
        self.fields["name"].help_text = _(
            "So you can tell your passkeys apart, for example “Office laptop”."
        )
        if "passwordless" in self.fields:
            self.fields["passwordless"].label = _("Sign in with this passkey alone")
            self.fields["passwordless"].help_text = _(
                "Your device asks for its PIN, fingerprint or face, so the passkey is both "
                "factors and you need no password. Leave unticked for a security key you "
                "use only after your password."
            )
            self.fields["passwordless"].initial = True
