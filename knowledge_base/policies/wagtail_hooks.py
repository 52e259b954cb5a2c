"""The office's policy admin: categories, proposed changes and acknowledgement campaigns.

Policies themselves are Wagtail pages under the policy library (revisions, comparison,
workflow, locking and comments come with the page editor); a policy reached through the
page tree is served by the portal's view.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup
from wagtail.models import Revision
from wagtail.permissions import register_permission_policy

from portal import access
from portal.admin_actions import publish_first
from portal.admin_policies import RolePermissionPolicy

from . import selectors
from .forms import acknowledging_role_choices, quiz_choices
from .models import (
    AcknowledgementCampaign,
    PolicyCategory,
    PolicyChange,
    PolicyLibraryPage,
    PolicyPage,
)
from .services.campaigns import check_start_campaign, do_start_campaign
from .views import reading


def _office(user) -> bool:
    return access.can_anywhere(user, "policies.manage_policies")


register_permission_policy(
    PolicyCategory,
    RolePermissionPolicy(PolicyCategory, {"add", "change", "delete", "view"}, _office),
)
register_permission_policy(
    PolicyChange, RolePermissionPolicy(PolicyChange, {"add", "change", "view"}, _office)
)
register_permission_policy(
    AcknowledgementCampaign,
    RolePermissionPolicy(AcknowledgementCampaign, {"add", "change", "delete", "view"}, _office),
)


class CampaignForm(WagtailAdminModelForm):
    """A campaign for a policy's current version, checked and opened by the services."""

    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=(), widget=forms.CheckboxSelectMultiple
    )
    quiz_key = forms.ChoiceField(label=_("Acknowledge by passing a quiz"), required=False)

    class Meta:
        model = AcknowledgementCampaign
        fields = ["policy", "version", "roles", "libraries", "due_date", "quiz_key"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = acknowledging_role_choices()
        self.fields["quiz_key"].choices = quiz_choices(self.initial.get("quiz_key", ""))

    def clean(self):
        cleaned = super().clean()
        policy, version = cleaned.get("policy"), cleaned.get("version")
        if policy and version and version.policy_id != policy.pk:
            self.add_error("version", _("Choose a version of this policy."))
        elif version and cleaned.get("due_date") and not self.instance.pk:
            try:
                check_start_campaign(
                    self.for_user,
                    version,
                    roles=cleaned.get("roles") or [],
                    libraries=list(cleaned.get("libraries") or []),
                    due_date=cleaned["due_date"],
                )
            except ValidationError as exc:
                self.add_error(None, exc)
            except PermissionDenied:
                self.add_error(None, _("You may not start acknowledgement campaigns."))
        return cleaned

    def save(self, commit=True):
        if self.instance.pk:
            return super().save(commit)
        data = self.cleaned_data
        self.instance = do_start_campaign(
            self.for_user,
            data["version"],
            roles=data["roles"],
            libraries=list(data.get("libraries") or []),
            due_date=data["due_date"],
            quiz_key=data.get("quiz_key") or "",
        )
        return self.instance


class RevisionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        created = timezone.localtime(obj.created_at)
        return _("%(title)s: draft of %(date)s by %(person)s") % {
            "title": obj.object_str,
            "date": created.strftime("%Y-%m-%d %H:%M"),
            "person": (obj.user.get_full_name() or obj.user.email) if obj.user else "—",
        }


class ChangeForm(WagtailAdminModelForm):
    """Offers only the chosen policy's own unpublished drafts as the revision to propose."""

    revision = RevisionChoiceField(label=_("Draft revision"), queryset=Revision.objects.none())

    class Meta:
        model = PolicyChange
        fields = ["policy", "revision", "status", "comment_until", "effective_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy_id = self.instance.policy_id or self.data.get("policy") or None
        if not self.instance.pk:
            # A new change starts open for comment or before the committee, nothing later.
            self.fields["status"].choices = [
                (s.value, s.label)
                for s in (PolicyChange.Status.COMMENT, PolicyChange.Status.PROPOSED)
            ]
        drafts = selectors.draft_revisions([policy_id] if policy_id else None)
        if self.instance.revision_id:
            # The revision already proposed stays choosable even once it is published.
            drafts = Revision.objects.filter(
                Q(pk__in=drafts.values("pk")) | Q(pk=self.instance.revision_id)
            ).order_by("-created_at")
        self.fields["revision"].queryset = drafts.select_related("user")

    def clean(self):
        cleaned = super().clean()
        policy, revision = cleaned.get("policy"), cleaned.get("revision")
        if policy and revision and revision.object_id != str(policy.pk):
            self.add_error("revision", _("Choose a draft of this policy."))
        return cleaned


class CategoryViewSet(ModelViewSet):
    model = PolicyCategory
    icon = "folder-open-inverse"
    menu_label = _("Categories")
    form_fields = ["name", "slug", "order"]
    list_display = ["name", "slug", "order"]


class ChangeViewSet(ModelViewSet):
    """Drafts put up for comment and committee: the subjects of governance proposals."""

    model = PolicyChange
    icon = "doc-full"
    menu_label = _("Proposed changes")
    list_display = ["__str__", "status", "comment_until", "effective_date", "authority_label"]
    list_filter = ["status"]

    def get_form_class(self, for_update=False):
        return ChangeForm


class CampaignViewSet(ModelViewSet):
    model = AcknowledgementCampaign
    icon = "tick-inverse"
    menu_label = _("Acknowledgement campaigns")
    list_display = ["__str__", "due_date"]

    def get_form_class(self, for_update=False):
        return CampaignForm


class PolicyAdminGroup(ModelViewSetGroup):
    menu_label = _("Policies")
    menu_icon = "doc-full-inverse"
    menu_order = 250
    items = (CategoryViewSet, ChangeViewSet, CampaignViewSet)


@hooks.register("register_admin_viewset")
def register_policy_viewsets():
    return PolicyAdminGroup()


class OfficeMenuItem(MenuItem):
    def is_shown(self, request):
        return access.can_anywhere(request.user, "policies.view_acknowledgements")


@hooks.register("register_admin_menu_item")
def register_report_menu_item():
    return OfficeMenuItem(
        _("Policy acknowledgements"),
        reverse("policies:report"),
        icon_name="list-ul",
        order=260,
    )


@hooks.register("construct_page_action_menu")
def publish_policies_first(menu_items, request, context):
    """On a policy, "Publish" is the main button: publishing is what the office came to
    do, and a saved draft asks nobody anything."""
    from .models import PolicyPage

    if isinstance(context.get("page"), PolicyPage):
        publish_first(menu_items)


# After Wagtail's own view restrictions (order 0), which stay outside this wrapper.
@hooks.register("on_serve_page", order=10)
def serve_policies(serve_page):
    """A policy reached through the page tree reads as at its portal address: the current
    version, the person's acknowledgement, the local procedures. The editor's preview
    renders the page's own context (``PolicyPage.get_context``) and does not come here."""

    def serve(page, request, args, kwargs):
        if isinstance(page, PolicyPage):
            return reading.render_policy(request, page)
        if isinstance(page, PolicyLibraryPage):
            # The portal's index checks permissions per library; the page tree does not.
            return redirect("policies:index")
        return serve_page(page, request, args, kwargs)

    return serve
