from django.core.exceptions import PermissionDenied, ValidationError
from wagtail.admin.forms import WagtailAdminModelForm

from portal import access
from portal.members.models import MemberLibrary

from .models import IdentityProvider
from .services import MANAGE, check_save_provider


class IdentityProviderForm(WagtailAdminModelForm):
    """The office picks any library; a director only one they manage."""

    class Meta:
        model = IdentityProvider
        fields = [
            "library",
            "name",
            "protocol",
            "email_domains",
            "counts_as_second_factor",
            "issuer",
            "client_id",
            "client_secret",
            "entity_id",
            "metadata_url",
            "metadata_xml",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.for_user
        if user is not None and not access.is_consortium_admin(user):
            self.fields["library"].queryset = access.libraries_for(user, MANAGE)
        else:
            self.fields["library"].queryset = MemberLibrary.objects.all()

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        provider = self.instance
        for name, value in cleaned.items():
            setattr(provider, name, value)
        try:
            check_save_provider(self.for_user, provider)
        except PermissionDenied as refusal:
            raise ValidationError(str(refusal)) from refusal
        except ValidationError as invalid:
            for field, messages in invalid.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned
