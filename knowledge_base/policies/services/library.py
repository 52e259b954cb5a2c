"""Setting up the policy library: its page, the office's page permissions and approval
workflow."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.utils.translation import gettext as _

from ..models import (
    PolicyLibraryPage,
)

OFFICE_WORKFLOW = "Policy office approval"


def setup_policy_library(parent, title: str | None = None, slug: str = "policy-library"):
    """Create the policy library page with the office's page permissions and approval workflow.

    Idempotent: returns the existing library when there is one.
    """
    from wagtail.models import GroupApprovalTask, Workflow, WorkflowPage, WorkflowTask

    from portal.members.office import office_group

    library = PolicyLibraryPage.objects.first()
    if library is None:
        library = PolicyLibraryPage(title=title or _("Policy library"), slug=slug)
        parent.add_child(instance=library)
        library.save_revision().publish()
    group = office_group()
    for codename in ("add_page", "change_page", "publish_page", "lock_page", "unlock_page"):
        _grant_page_permission(group, library, codename)
    workflow = Workflow.objects.filter(name=OFFICE_WORKFLOW).first()
    if workflow is None:
        workflow = Workflow.objects.create(name=OFFICE_WORKFLOW, active=True)
        task = GroupApprovalTask.objects.create(name=_("Office approval"), active=True)
        task.groups.set([group])
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    WorkflowPage.objects.get_or_create(page=library, defaults={"workflow": workflow})
    return library


def _grant_page_permission(group: Group, page, codename: str) -> None:
    from django.contrib.auth.models import Permission
    from wagtail.models import GroupPagePermission

    permission = Permission.objects.get(content_type__app_label="wagtailcore", codename=codename)
    GroupPagePermission.objects.get_or_create(group=group, page=page, permission=permission)
