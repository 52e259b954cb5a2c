from django import template

from portal.sso.models import IdentityProvider

register = template.Library()


@register.simple_tag
def library_sign_in_domains() -> dict[str, str]:
    """Each email domain a library's identity provider vouches for, with the provider's name:
    the sign-in page hides the password for these as the address is typed."""
    return {
        domain: provider.name
        for provider in IdentityProvider.objects.only("name", "email_domains")
        for domain in provider.domains()
    }
