"""allauth's SAML provider, keeping the assertion's AuthnContextClassRef.

allauth keeps only a SAML answer's attributes; whether the sign-in used more than a
password is in the assertion's AuthnContextClassRef, which ``provider_states_mfa`` reads.
Installed through ``SOCIALACCOUNT_PROVIDERS["saml"]["provider_class"]``.
"""

from allauth.socialaccount.providers.saml.provider import SAMLProvider


class LibrarySAMLProvider(SAMLProvider):
    package = "allauth.socialaccount.providers.saml"  # allauth's own URLs and views

    def sociallogin_from_response(self, request, response):
        login = super().sociallogin_from_response(request, response)
        login.account.extra_data = {
            **(login.account.extra_data or {}),
            "authn_contexts": list(response.get_last_authn_contexts() or []),
        }
        return login
