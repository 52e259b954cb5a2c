from django.utils.translation import gettext_lazy as _

from portal.plugins import (
    COMMUNICATIONS,
    CONSORTIUM_ADMIN,
    DIRECTOR,
    STAFF,
    TRAINER,
    NavLink,
    PluginMeta,
    PluginPermission,
    PortalPluginConfig,
)


class TrainingConfig(PortalPluginConfig):
    name = "knowledge_base.training"
    label = "training"
    verbose_name = _("Training courses")
    meta = PluginMeta(
        name=_("Training courses"),
        version="1.0.0",
        compatibility="concord>=1.0,<2",
        description=_("Shared courses for member staff: lessons, quizzes, certificates, reports."),
        permissions=(
            PluginPermission(
                "take_courses",
                _("Take training courses"),
                (
                    DIRECTOR,
                    STAFF,
                    COMMUNICATIONS,
                    TRAINER,
                ),
            ),
            PluginPermission(
                "assign_courses",
                _("Assign courses to the library's staff"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                    TRAINER,
                ),
            ),
            PluginPermission(
                "view_training_report",
                _("See the library's training completion"),
                (
                    CONSORTIUM_ADMIN,
                    DIRECTOR,
                    TRAINER,
                ),
            ),
            PluginPermission(
                "manage_courses",
                _("Write and publish courses"),
                (
                    CONSORTIUM_ADMIN,
                    TRAINER,
                ),
            ),
        ),
        navigation=(
            NavLink(_("My training"), "training:transcript", ("training.take_courses",)),
            NavLink(_("Training reports"), "training:reports", ("training.view_training_report",)),
        ),
        dashboard_panel="knowledge_base.training.panels.dashboard_panel",
        # Bulk writes of these call portal.home.panels.panel_changed too. Lessons and
        # quizzes for the lesson pages, which keep what everyone reads (portal.home.kept);
        # progress for the lesson pages too, which keep the person's enrolment in the
        # course and their progress on the lesson.
        dashboard_panel_changes_with=(
            "training.CoursePage",
            "training.Enrolment",
            "training.LessonPage",
            "training.LessonProgress",
            "training.Quiz",
        ),
        # A lesson's text and pager: enrolling and progress move the panel on, not these.
        shared_parts_change_with=("training.CoursePage", "training.LessonPage", "training.Quiz"),
        demo_seeder="knowledge_base.training.demo.seed",
        demo_reset="knowledge_base.training.demo.reset_demo",
        report_columns="knowledge_base.training.reports.report_columns",
    )

    def ready(self):
        # Receivers: standing assignments, reminders, re-certification; reading-check quizzes.
        from . import reading_quizzes, signals  # noqa: F401
