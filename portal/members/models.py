from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase
from treebeard.mp_tree import MP_Node

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a colour such as #1d4ed8."))


class MemberLibrary(MP_Node):
    """A node of the consortium tree: the consortium, a library system, a library or a branch."""

    class Kind(models.TextChoices):
        CONSORTIUM = "consortium", _("Consortium")
        SYSTEM = "system", _("Library system")
        LIBRARY = "library", _("Member library")
        BRANCH = "branch", _("Branch")

    class LibraryType(models.TextChoices):
        PUBLIC = "public", _("Public")
        ACADEMIC = "academic", _("Academic")
        SCHOOL = "school", _("School")
        SPECIAL = "special", _("Special")

    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(
        _("code"), max_length=32, unique=True, help_text=_("Short code, e.g. the ILS branch code.")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    library_type = models.CharField(
        _("type"), max_length=16, choices=LibraryType.choices, default=LibraryType.PUBLIC
    )
    vote_weight = models.DecimalField(_("vote weight"), max_digits=8, decimal_places=3, default=1)
    shares_catalogue = models.BooleanField(_("shares the catalogue"), default=False)
    # Branding, used on patron notices and the library's pages.
    logo = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("logo"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    primary_colour = models.CharField(
        _("primary colour"), max_length=7, default="#1d4ed8", validators=[hex_colour]
    )
    secondary_colour = models.CharField(
        _("secondary colour"), max_length=7, default="#0f172a", validators=[hex_colour]
    )
    reply_to = models.EmailField(_("reply-to address"), blank=True)
    website = models.URLField(_("website"), blank=True)
    # Contacts.
    address = models.TextField(_("postal address"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)

    # No node_order_by: a sorted insert renumbers the siblings' paths, which would make
    # every path held in memory (and anything keyed by it) stale. Paths change only on move.

    class Meta:
        verbose_name = _("member library")
        verbose_name_plural = _("member libraries")

    def __str__(self):
        return self.name

    @property
    def is_consortium(self) -> bool:
        return self.kind == self.Kind.CONSORTIUM

    def ancestor_paths(self) -> list[str]:
        """Paths of this node and every ancestor, without a query."""
        return [self.path[:i] for i in range(self.steplen, len(self.path) + 1, self.steplen)]


class Role(models.Model):
    """A role the consortium defines: its name, what it lets a person do for the library
    where it is held (and every library below), where it may be held and who appoints it.

    Memberships name a role by its ``code``, which never changes; a role people no longer
    take is retired, never deleted, so no membership's code is ever left without its row.
    """

    code = models.SlugField(
        _("code"),
        max_length=32,
        unique=True,
        help_text=_("A short, stable name used in imports and the API; it cannot change."),
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("What the consortium calls this role.")
    )
    description = models.TextField(_("description"), blank=True)
    permissions = models.ManyToManyField(
        "auth.Permission",
        verbose_name=_("permissions"),
        blank=True,
        related_name="+",
        help_text=_("What a holder may do for their library and every library below it."),
    )
    library_kinds = models.JSONField(
        _("kinds of library"),
        default=list,
        blank=True,
        help_text=_("Where the role may be held; none ticked: at any kind of library."),
    )
    library_types = models.JSONField(
        _("types of library"),
        default=list,
        blank=True,
        help_text=_("None ticked: at libraries of every type."),
    )
    requires_mfa = models.BooleanField(_("requires two-factor authentication"), default=False)
    appointed_by = models.ManyToManyField(
        "self",
        verbose_name=_("may be appointed by"),
        symmetrical=False,
        blank=True,
        related_name="may_appoint",
        help_text=_(
            "Holders of these roles may appoint this one at their own library and below. "
            "The consortium office may always appoint it."
        ),
    )
    retired = models.BooleanField(
        _("retired"), default=False, help_text=_("A retired role can no longer be given.")
    )

    class Meta:
        verbose_name = _("role")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="one_role_per_name"),
        ]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A person's role at one member library; the role reaches the library's descendants."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    library = models.ForeignKey(MemberLibrary, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, help_text=_("The role's code."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        constraints = [
            models.UniqueConstraint(fields=["user", "library", "role"], name="one_role_per_library")
        ]

    def __str__(self):
        return f"{self.user} — {self.role} @ {self.library}"


class Appointment(models.Model):
    """A role offered to someone who already has an account: it is theirs only once they
    accept it (``services.do_accept_appointment``). New people are appointed at once; their
    invitation, which they accept by choosing a password, is the consent."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for an answer")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appointments"
    )
    library = models.ForeignKey(
        MemberLibrary, on_delete=models.CASCADE, related_name="appointments"
    )
    role = models.CharField(_("role"), max_length=32, help_text=_("The role's code."))
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("appointment")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "library", "role"],
                condition=models.Q(state="pending"),
                name="one_pending_appointment",
            )
        ]

    def __str__(self):
        return f"{self.user} — {self.role} @ {self.library} ({self.state})"


class MemberLibraryUserObjectPermission(UserObjectPermissionBase):
    """guardian's direct foreign-key table: resolved per-library grants.

    ``from_role`` rows are derived from memberships and rewritten by the sync; the rest are
    one-off exceptions an administrator granted by hand, which the sync leaves alone.
    """

    content_object = models.ForeignKey(MemberLibrary, on_delete=models.CASCADE)
    from_role = models.BooleanField(default=True)

    class Meta(UserObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["user", "permission", "content_object"])]


class PluginState(models.Model):
    """The consortium's switch for one plugin: installed at all, and mandatory for members."""

    plugin = models.CharField(_("plugin"), max_length=100, unique=True)
    enabled = models.BooleanField(_("enabled for the consortium"), default=True)
    mandatory = models.BooleanField(
        _("mandatory"), default=False, help_text=_("Member libraries cannot switch it off.")
    )

    def __str__(self):
        return self.plugin


class LibraryPluginSwitch(models.Model):
    """A member library switching a plugin off (or back on) for itself and its branches."""

    library = models.ForeignKey(
        MemberLibrary, on_delete=models.CASCADE, related_name="plugin_switches"
    )
    plugin = models.CharField(_("plugin"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["library", "plugin"], name="one_switch_per_plugin")
        ]

    def __str__(self):
        return f"{self.plugin} {'on' if self.enabled else 'off'} @ {self.library}"
