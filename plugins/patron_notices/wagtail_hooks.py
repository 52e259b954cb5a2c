"""The patron directory and patron notices in the Wagtail admin.

Who may do what with a notice is decided by ``portal.access`` (through ``rules.may_*``)
in the permission policy below: anyone with ``draft_notices`` somewhere drafts and submits
to the approval workflow; someone else of the office (``send_notices``) approves it there
(``NoticeApprovalTask``), then the office schedules and controls the send. A notice is a
snippet because Wagtail's workflows (with drafts and revisions) are the snippets'.
"""

from django import forms
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.permission_policies import BasePermissionPolicy
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views import snippets as snippet_views
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from portal import access
from portal.members.models import MemberLibrary

from . import rules
from .blocks import language_choices
from .notices import admin_views, selectors
from .notices.models import Notice
from .rules import COUNTS, IMPORT, VIEW


class PatronDirectoryMenuItem(MenuItem):
    def is_shown(self, request):
        user = request.user
        return any(access.can_anywhere(user, perm) for perm in (COUNTS, VIEW, IMPORT))


@hooks.register("register_admin_menu_item")
def patron_directory_menu_item():
    return PatronDirectoryMenuItem(
        _("Patron directory"), reverse("patron_notices:overview"), icon_name="group", order=260
    )


class NoticePermissionPolicy(BasePermissionPolicy):
    """Drafts: anyone who may draft (or send). A notice past draft is no longer edited."""

    def user_has_permission(self, user, action):
        if action in ("add", "change", "delete", "view"):
            return rules.may_draft(user) or rules.may_send(user)
        if action == "publish":
            # Publishing is what the workflow's approval does; the views below offer no
            # direct "Publish", and the task refuses the author.
            return rules.may_send(user)
        return False

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        if action in ("change", "delete"):
            return rules.may_edit(user, instance)
        if action == "view":
            return rules.may_view(user, instance)
        return self.user_has_permission(user, action)

    def user_has_any_permission_for_instance(self, user, actions, instance):
        return any(self.user_has_permission_for_instance(user, a, instance) for a in actions)

    def instances_user_has_any_permission_for(self, user, actions):
        if self.user_has_any_permission(user, actions):
            return selectors.notices_for(user)
        return Notice.objects.none()


register_permission_policy(Notice, NoticePermissionPolicy(Notice))


class NoticeForm(WagtailAdminModelForm):
    """Audience choices as people pick them: languages ticked, categories as codes."""

    languages = forms.MultipleChoiceField(
        label=_("Languages"),
        choices=language_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only patrons who read one of these. None ticked: every language."),
    )
    patron_categories = forms.CharField(
        label=_("Patron categories"),
        required=False,
        help_text=_("The ILS category codes, separated by commas, e.g. PT, ST. Empty: all."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["patron_categories"] = ", ".join(self.instance.patron_categories or [])
        self.fields["libraries"].queryset = MemberLibrary.objects.order_by("path")
        self.fields["libraries"].help_text = _(
            "None chosen: every member library. A library system takes its branches."
        )
        self.fields["branches"].queryset = MemberLibrary.objects.exclude(
            kind=MemberLibrary.Kind.CONSORTIUM
        ).order_by("path")

    def clean_patron_categories(self):
        value = self.cleaned_data["patron_categories"] or ""
        return sorted({code.strip() for code in value.split(",") if code.strip()})


class NoDirectPublish:
    """Approval only through the workflow: never a plain "Publish" that skips it."""

    def get_available_actions(self):
        return [a for a in super().get_available_actions() if a != "publish"]


class NoticeCreateView(NoDirectPublish, snippet_views.CreateView):
    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        # Autosave creates the notice while it is typed; a "Submit" that crosses it in
        # flight created a second one. A notice is created once, when its author says so.
        self.autosave_enabled = False

    def save_instance(self):
        self.form.instance.author = self.request.user
        return super().save_instance()


class NoticeIndexView(snippet_views.IndexView):
    def get_base_queryset(self):
        # Other libraries' drafts are theirs: not listed (see ``rules.may_view``).
        return super().get_base_queryset().filter(pk__in=selectors.notices_for(self.request.user))

    def get_edit_url(self, instance):
        # A notice's own page: its state, controls and progress, and Edit while a draft.
        return reverse("notices:manage", args=[instance.pk])


class NoticeEditView(NoDirectPublish, snippet_views.EditView):
    def get_object(self, queryset=None):
        notice = super().get_object(queryset)
        # Wagtail checks "change" for the model; a notice past draft is not edited by anyone.
        if not rules.may_edit(self.request.user, notice):
            raise PermissionDenied
        return notice


class NoticeDeleteView(snippet_views.DeleteView):
    def get_object(self):
        notice = super().get_object()
        # Wagtail checks "delete" for the model; a draft is deleted only by its own people.
        if not rules.may_edit(self.request.user, notice):
            raise PermissionDenied
        return notice


class NoticeHistoryView(snippet_views.HistoryView):
    def get_object(self):
        notice = super().get_object()
        if not rules.may_view(self.request.user, notice):
            raise PermissionDenied
        return notice


class NoticeUnpublishView(snippet_views.UnpublishView):
    def dispatch(self, request, *args, **kwargs):
        # An approved notice goes on to be sent or cancelled, never back to a draft.
        raise PermissionDenied


class NoticeViewSet(SnippetViewSet):
    model = Notice
    icon = "mail"
    admin_url_namespace = "notices"
    base_url_path = "notices"
    menu_label = _("Notices")
    unpublish_view_class = NoticeUnpublishView
    index_view_class = NoticeIndexView
    add_view_class = NoticeCreateView
    edit_view_class = NoticeEditView
    delete_view_class = NoticeDeleteView
    history_view_class = NoticeHistoryView
    copy_view_enabled = False
    list_display = ["title", "category", "state", "send_at", "planned_count"]
    list_filter = ["state", "category"]
    search_fields = ["title"]
    panels = [
        FieldRowPanel([FieldPanel("title"), FieldPanel("category")]),
        FieldPanel("versions"),
        MultiFieldPanel(
            [
                FieldPanel("libraries"),
                FieldPanel("branches"),
                FieldPanel("patron_categories"),
                FieldPanel("languages"),
                FieldPanel("include_print"),
            ],
            heading=_("Audience"),
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("send_at"), FieldPanel("participation_deadline")]),
                FieldRowPanel([FieldPanel("hourly_limit"), FieldPanel("domain_limit")]),
            ],
            heading=_("Schedule and limits"),
        ),
    ]

    def get_edit_handler(self):
        return ObjectList(self.panels, base_form_class=NoticeForm).bind_to_model(self.model)

    def get_urlpatterns(self):
        patterns = [
            *super().get_urlpatterns(),
            path("<int:pk>/manage/", admin_views.manage, name="manage"),
            path("<int:pk>/progress.json", admin_views.progress_json, name="progress_json"),
            path("<int:pk>/act/<slug:action>/", admin_views.act, name="act"),
            path("<int:pk>/preview/", admin_views.preview, name="preview"),
            path("<int:pk>/preview/message/", admin_views.preview_message, name="preview_message"),
            path("<int:pk>/test-send/", admin_views.test_send, name="test_send"),
        ]
        # Every view of one notice (Wagtail's history, usage, revisions, workflow pages as
        # well as ours) first asks whether the person may see that notice at all.
        return [
            URLPattern(p.pattern, _seen_notices_only(p.callback), p.default_args, p.name)
            for p in patterns
        ]


def _seen_notices_only(view):
    from functools import wraps

    from django.contrib.admin.utils import unquote

    @wraps(view)
    def guarded(request, *args, **kwargs):
        pk = kwargs.get("pk")
        if pk is not None:
            notice = (
                Notice.objects.filter(pk=unquote(str(pk))).first() if str(pk).isdigit() else None
            )
            if notice is not None and not rules.may_view(request.user, notice):
                raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


class TakePartMenuItem(MenuItem):
    def is_shown(self, request):
        return access.can_anywhere(request.user, rules.TAKE_PART)


@hooks.register("register_admin_menu_item")
def take_part_menu_item():
    # The libraries' side of a notice: approve it for our patrons, add a paragraph, opt out.
    return TakePartMenuItem(
        _("Notices for our patrons"),
        reverse("patron_notices:notices"),
        icon_name="mail",
        order=255,
    )


class PatronNoticesGroup(SnippetViewSetGroup):
    menu_label = _("Patron notices")
    menu_icon = "mail"
    menu_order = 250
    items = (NoticeViewSet,)


register_snippet(PatronNoticesGroup)


@hooks.register("construct_snippet_action_menu")
def approval_says_what_it_does(menu_items, request, context):
    """Wagtail calls the last approval "Approve and Publish"; for a notice approval sends
    nothing (the office schedules the send afterwards), so the button says so, and it is
    the main button for the person asked to approve."""
    from wagtail.snippets.action_menu import WorkflowMenuItem

    if context.get("model") is not Notice and not isinstance(context.get("instance"), Notice):
        return
    approvals = [i for i in menu_items if isinstance(i, WorkflowMenuItem) and i.name == "approve"]
    for item in approvals:
        item.label = (
            _("Approve for sending, with a comment")
            if item.launch_modal
            else _("Approve for sending")
        )
    plain = next((i for i in approvals if not i.launch_modal), None)
    if plain is not None:
        menu_items.remove(plain)
        menu_items.insert(0, plain)
