from django.urls import include, path

from .directory import views
from .notices import bounces
from .notices import views as notice_views

app_name = "patron_notices"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("libraries/<slug:code>/patrons/", views.patron_list, name="patrons"),
    path("libraries/<slug:code>/import/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/status.json", views.import_status, name="import_status"),
    path("imports/<int:pk>/problems.csv", views.import_problems, name="import_problems"),
    path("preferences/<str:token>/", views.preferences, name="preferences"),
    path("u/<str:token>/", notice_views.unsubscribe, name="unsubscribe"),
    path("notices/", notice_views.notice_list, name="notices"),
    path(
        "notices/<int:pk>/libraries/<slug:code>/",
        notice_views.participate,
        name="participate",
    ),
    path(
        "notices/<int:pk>/libraries/<slug:code>/message/",
        notice_views.participation_message,
        name="participation_message",
    ),
    path(
        "notices/<int:pk>/libraries/<slug:code>/report.pdf",
        notice_views.delivery_report,
        name="delivery_report",
    ),
    path(
        "archive/<int:pk>/<slug:code>/<str:language>/",
        notice_views.archive,
        name="archive",
    ),
    path("print-runs/<int:pk>/letters.pdf", notice_views.print_run, name="print_run"),
    # Bounces and complaints from mail providers (django-anymail), e.g. postmark/tracking/.
    path("anymail/", include((bounces.tracking_urls(), "anymail"))),
]
