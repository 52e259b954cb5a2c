"""allauth's forms in the consortium's words."""

from allauth.account.forms import LoginForm
from allauth.mfa.webauthn.forms import AddWebAuthnForm
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from portal.sso.services import provider_for_email, sign_in_url


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


class SignInForm(LoginForm):
    """allauth's sign-in form, email first: an address whose domain a member library's
    identity provider vouches for goes to that provider; everyone else gives a password."""

    provider = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Not needed when the address's library signs its people in.
        self.fields["password"].required = False

    def clean(self):
        login = (self.data.get("login") or "").strip()
        self.provider = provider_for_email(login) if "@" in login else None
        if self.provider is not None:
            return self.cleaned_data
        if not self.data.get("password"):
            self.add_error("password", _("Enter your password."))
            return self.cleaned_data
        return super().clean()

    def login(self, request, redirect_url=None):
        if self.provider is not None:
            return redirect(sign_in_url(self.provider, next_url=redirect_url))
        return super().login(request, redirect_url=redirect_url)
