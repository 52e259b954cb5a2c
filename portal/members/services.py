"""Writes to member libraries, memberships and plugin switches, as ``check_*`` / ``do_*``.

``check_*`` validates the input and the actor's right to act and raises
:class:`~portal.members.exceptions.ActionRefused` with a message for the actor; it writes
nothing, so forms and the CSV import can ask it for every row first. ``do_*`` performs
the change and schedules its audit entry on commit. Each ``do_*`` runs its ``check_*``
again inside its transaction, so a caller cannot skip the rules by forgetting it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from portal import mail
from portal.audit.services import record_on_commit
from portal.plugins import PortalPluginConfig, get_plugin

from . import access
from .exceptions import ActionRefused
from .models import Appointment, LibraryPluginSwitch, MemberLibrary, Membership, PluginState
from .roles import CONSORTIUM_ADMIN, definitions, role_name
from .switches import enabled_plugins_by_library

User = get_user_model()

# Fields of a library only the consortium office may change: they shape votes and the tree.
OFFICE_ONLY_FIELDS = frozenset({"code", "kind", "vote_weight", "shares_catalogue"})


def _locked(library: MemberLibrary) -> MemberLibrary:
    """The library as the database has it now, row-locked for the transaction.

    treebeard rewrites sibling paths when it inserts in name order, so an instance loaded
    earlier may carry a stale path; every tree decision below uses this fresh copy.
    """
    return MemberLibrary.objects.select_for_update().get(pk=library.pk)


# --- people ------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    """The address as stored: trimmed and lower-cased; refused when it is not an address."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ActionRefused(
            _("“%(email)s” is not a valid email address.") % {"email": email}, code="email"
        ) from None
    return email


def appointable_roles(actor, library: MemberLibrary) -> set[str]:
    """The roles ``actor`` may appoint or remove at ``library``.

    The office may appoint any role anywhere. Anyone else needs ``portal.manage_people``
    for the library and appoints the roles that name one of their own roles, held on the
    library or an ancestor, in "may be appointed by" (Evergreen's grantable permissions):
    a system's director acts for its branches, never above or beside it. Retired roles
    and roles that may not be held at this kind or type of library are left out.
    """
    roles = definitions()
    if access.is_consortium_admin(actor):
        allowed = set(roles)
    elif not access.can(actor, "portal.manage_people", library):
        return set()
    else:
        reach = set(library.ancestor_paths())
        held = {m.role for m in access.memberships_of(actor) if m.library.path in reach}
        allowed = {code for code, role in roles.items() if role.appointed_by & held}
    return {
        code for code in allowed if not roles[code].retired and roles[code].may_be_held_at(library)
    }


def _check_may_appoint(actor, library: MemberLibrary, role: str, *, removing=False) -> None:
    definition = definitions().get(role)
    if definition is None:
        raise ActionRefused(_("“%(role)s” is not a role.") % {"role": role}, code="role")
    name = definition.name
    if definition.retired and not removing:
        raise ActionRefused(
            _("%(role)s is a retired role; nobody can be given it now.") % {"role": name},
            code="retired",
        )
    if not definition.may_be_held_at(library) and not removing:
        raise ActionRefused(
            _("A %(role)s cannot be appointed at %(library)s (a %(kind)s, %(type)s library).")
            % {
                "role": name,
                "library": library.name,
                "kind": library.get_kind_display().lower(),
                "type": library.get_library_type_display().lower(),
            },
            code="role",
        )
    if access.is_consortium_admin(actor):
        return
    if not access.can(actor, "portal.manage_people", library):
        raise ActionRefused(
            _("You may not manage the people of %(library)s.") % {"library": library.name},
            code="permission",
        )
    reach = set(library.ancestor_paths())
    held = {m.role for m in access.memberships_of(actor) if m.library.path in reach}
    if not definition.appointed_by & held:
        if definition.appointed_by:
            who = _(" or ").join(sorted(role_name(c) for c in definition.appointed_by))
            message = _(
                "You may not appoint a %(role)s at %(library)s: only the consortium office "
                "or a %(who)s of the library or a library above it may."
            )
        else:
            who, message = (
                "",
                _("You may not appoint a %(role)s at %(library)s: only the consortium office may."),
            )
        raise ActionRefused(
            message % {"role": name, "library": library.name, "who": who}, code="permission"
        )


def check_add_membership(actor, user_or_email, library: MemberLibrary, role: str):
    """Validate an appointment; returns the existing user, or the normalised email of a
    person who has no account yet."""
    _check_may_appoint(actor, library, role)
    if isinstance(user_or_email, str):
        email = normalise_email(user_or_email)
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            return email
    else:
        user = user_or_email
    if Membership.objects.filter(user=user, library=library, role=role).exists():
        raise ActionRefused(
            _("%(person)s is already %(role)s at %(library)s.")
            % {"person": user.email, "role": role_name(role), "library": library.name},
            code="duplicate",
        )
    return user


def do_add_membership(actor, user, library: MemberLibrary, role: str) -> Membership:
    """Give ``user`` ``role`` at ``library``; audited. The building block under the
    appointment flows: a new person's invitation (``invitations.do_invite``) and
    an accepted offer (``do_accept_appointment``). Anyone who already has an account is
    asked first (``do_offer_membership``), never appointed by this directly from a page."""
    with transaction.atomic():
        library = _locked(library)
        check_add_membership(actor, user, library, role)
        membership = Membership.objects.create(user=user, library=library, role=role)
        record_on_commit(
            "membership.added",
            actor=actor,
            library=library,
            obj=membership,
            data={"user": user.email, "role": role},
        )
    access.forget(user)
    return membership


# --- appointments of people who already have an account ---------------------------------


def needs_consent(user) -> bool:
    """Whether appointing ``user`` takes an offer they accept: anyone who already uses the
    portal (a password, a sign-in, the superuser). Someone invited who has not yet chosen a
    password gets an invitation for each role instead; choosing the password accepts."""
    if isinstance(user, str):
        return False
    return user.has_usable_password() or user.last_login is not None or user.is_superuser


def check_offer_membership(actor, user, library: MemberLibrary, role: str) -> None:
    check_add_membership(actor, user, library, role)
    if Appointment.objects.filter(
        user=user, library=library, role=role, state=Appointment.State.PENDING
    ).exists():
        raise ActionRefused(
            _("%(person)s has already been asked to be %(role)s at %(library)s.")
            % {"person": user.email, "role": role_name(role), "library": library.name},
            code="duplicate",
        )


def do_offer_membership(actor, user, library: MemberLibrary, role: str) -> Appointment:
    """Ask ``user`` to take ``role`` at ``library``; nothing changes until they accept.
    They are told by email once the transaction commits. Audited."""
    with transaction.atomic():
        library = _locked(library)
        check_offer_membership(actor, user, library, role)
        appointment = Appointment.objects.create(
            user=user, library=library, role=role, offered_by=actor
        )
        record_on_commit(
            "membership.offered",
            actor=actor,
            library=library,
            obj=appointment,
            data={"user": user.email, "role": role},
        )
        appointment_pk = appointment.pk
        transaction.on_commit(lambda: _tell_about_appointment(appointment_pk))
    return appointment


def _tell_about_appointment(appointment_pk: int) -> None:
    appointment = Appointment.objects.select_related("user", "library", "offered_by").get(
        pk=appointment_pk
    )
    library = appointment.library
    mail.send(
        appointment.user.email,
        "members/email/appointment_message.txt",
        {
            "appointment": appointment,
            "user": appointment.user,
            "library": library,
            "role": role_name(appointment.role),
            "offered_by": appointment.offered_by,
            "consortium_name": settings.WAGTAIL_SITE_NAME,
            "answer_url": settings.WAGTAILADMIN_BASE_URL.rstrip("/")
            + reverse("members:appointments"),
        },
        subject_template="members/email/appointment_subject.txt",
        reply_to=library.reply_to,
    )


def check_answer_appointment(user, appointment: Appointment) -> Appointment:
    """The person it was offered to, while it waits; under a row lock."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.user_id != getattr(user, "pk", None):
        raise ActionRefused(_("This appointment was offered to someone else."), code="permission")
    if appointment.state != Appointment.State.PENDING:
        raise ActionRefused(_("This appointment has already been answered."), code="answered")
    return appointment


def do_accept_appointment(user, appointment: Appointment) -> Membership:
    """The person takes the role. The one who offered it must still be allowed to appoint
    it (their own role may have gone since); the membership is theirs, audited as both."""
    from django.utils import timezone

    with transaction.atomic():
        appointment = check_answer_appointment(user, appointment)
        offered_by = appointment.offered_by
        if offered_by is None:
            raise ActionRefused(_("Whoever offered this appointment is no longer here."))
        try:
            membership = do_add_membership(offered_by, user, appointment.library, appointment.role)
        except ActionRefused as refusal:
            raise ActionRefused(
                _("This offer no longer holds: %(why)s") % {"why": refusal.message},
                code=refusal.code,
            ) from None
        appointment.state, appointment.decided_at = Appointment.State.ACCEPTED, timezone.now()
        appointment.save(update_fields=["state", "decided_at"])
        record_on_commit(
            "membership.accepted",
            actor=user,
            library=appointment.library,
            obj=appointment,
            data={"role": appointment.role, "membership": membership.pk},
        )
    return membership


def do_decline_appointment(user, appointment: Appointment) -> Appointment:
    from django.utils import timezone

    with transaction.atomic():
        appointment = check_answer_appointment(user, appointment)
        appointment.state, appointment.decided_at = Appointment.State.DECLINED, timezone.now()
        appointment.save(update_fields=["state", "decided_at"])
        record_on_commit(
            "membership.declined",
            actor=user,
            library=appointment.library,
            obj=appointment,
            data={"role": appointment.role},
        )
    return appointment


def check_remove_membership(actor, membership: Membership) -> None:
    _check_may_appoint(actor, membership.library, membership.role, removing=True)
    if membership.role == CONSORTIUM_ADMIN:
        # Lock the office's memberships so two removals cannot both pass this check.
        admins = list(
            Membership.objects.select_for_update()
            .filter(role=CONSORTIUM_ADMIN, user__is_active=True)
            .values_list("pk", flat=True)
        )
        if admins == [membership.pk]:
            raise ActionRefused(
                _("The consortium needs at least one administrator."), code="last_admin"
            )


def do_remove_membership(actor, membership: Membership) -> None:
    """Remove one role; the grants it brought vanish with it. Audited."""
    with transaction.atomic():
        membership.library = _locked(membership.library)
        check_remove_membership(actor, membership)
        user, library, role, pk = (
            membership.user,
            membership.library,
            membership.role,
            membership.pk,
        )
        membership.delete()
        record_on_commit(
            "membership.removed",
            actor=actor,
            library=library,
            data={"membership": pk, "user": user.email, "role": role},
        )
    access.forget(user)


# --- libraries ---------------------------------------------------------------------------


def check_create_library(actor, parent: MemberLibrary) -> None:
    if not access.is_consortium_admin(actor):
        raise ActionRefused(_("Only the consortium office adds member libraries."))
    if parent is None:
        raise ActionRefused(_("Choose where the library sits in the consortium."))


def do_create_library(actor, parent: MemberLibrary, library: MemberLibrary) -> MemberLibrary:
    """Add the unsaved ``library`` as a child of ``parent``; audited."""
    with transaction.atomic():
        check_create_library(actor, parent)
        parent = _locked(parent)
        library = parent.add_child(instance=library)
        record_on_commit(
            "library.created",
            actor=actor,
            library=library,
            obj=library,
            data={"code": library.code, "parent": parent.code},
        )
    return library


def check_update_library(actor, library: MemberLibrary, changed: set[str]) -> None:
    if access.is_consortium_admin(actor):
        return
    if not access.can(actor, "portal.manage_library", library):
        raise ActionRefused(
            _("You may not edit %(library)s.") % {"library": library.name}, code="permission"
        )
    if changed & OFFICE_ONLY_FIELDS:
        raise ActionRefused(
            _(
                "Only the consortium office changes a library's code, kind, vote weight "
                "or catalogue sharing."
            ),
            code="permission",
        )


def do_update_library(actor, library: MemberLibrary, changed: set[str]) -> MemberLibrary:
    """Save the edited ``library``; ``changed`` names the fields that were edited."""
    with transaction.atomic():
        check_update_library(actor, library, changed)
        library.save()
        record_on_commit(
            "library.updated",
            actor=actor,
            library=library,
            obj=library,
            data={field: getattr(library, field) for field in sorted(changed) if field != "logo"},
        )
    return library


# --- plugins -----------------------------------------------------------------------------


def check_switch_plugin(
    actor, library: MemberLibrary, plugin_label: str, enabled: bool
) -> PortalPluginConfig:
    """Validate switching a plugin for a library; returns the plugin's config."""
    plugin = get_plugin(plugin_label)
    if plugin is None:
        raise ActionRefused(
            _("There is no module called “%(plugin)s”.") % {"plugin": plugin_label},
            code="unknown",
        )
    if not access.can(actor, "portal.manage_plugins", library):
        raise ActionRefused(
            _("You may not switch modules for %(library)s.") % {"library": library.name},
            code="permission",
        )
    state = PluginState.objects.filter(plugin=plugin_label).first()
    if state is not None and not state.enabled:
        raise ActionRefused(
            _("The consortium has not installed %(plugin)s.") % {"plugin": plugin.meta.name},
            code="not_installed",
        )
    if state is not None and state.mandatory and not enabled:
        raise ActionRefused(
            _("%(plugin)s is mandatory for every member library; it cannot be switched off.")
            % {"plugin": plugin.meta.name},
            code="mandatory",
        )
    return plugin


def do_switch_plugin(actor, library: MemberLibrary, plugin_label: str, enabled: bool):
    """Switch a plugin on or off for ``library`` and, by inheritance, its branches.

    The plugin's ``installed()`` / ``uninstalled()`` runs for every library in the
    subtree whose state actually changed. Audited.
    """
    library.__dict__.pop("_enabled_plugins", None)  # the caller's copy must ask again
    with transaction.atomic():
        library = _locked(library)
        plugin = check_switch_plugin(actor, library, plugin_label, enabled)
        subtree = list(MemberLibrary.get_tree(library))
        before = enabled_plugins_by_library(subtree)
        switch, _created = LibraryPluginSwitch.objects.update_or_create(
            library=library, plugin=plugin_label, defaults={"enabled": enabled}
        )
        after = enabled_plugins_by_library(subtree)
        for node in subtree:
            node.__dict__.pop("_enabled_plugins", None)
            was_on, is_on = plugin_label in before[node.pk], plugin_label in after[node.pk]
            if is_on and not was_on:
                plugin.installed(node)
            elif was_on and not is_on:
                plugin.uninstalled(node)
        record_on_commit(
            "plugin.switched",
            actor=actor,
            library=library,
            obj=switch,
            data={"plugin": plugin_label, "enabled": enabled},
        )
    return switch
