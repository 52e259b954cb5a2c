from django.urls import path

from . import views

app_name = "training"

urlpatterns = [
    path("me/", views.transcript, name="transcript"),
    path("courses/<int:course_id>/enrol/", views.enrol, name="enrol"),
    path("courses/<int:course_id>/quiz/", views.quiz, name="quiz"),
    path("courses/<int:course_id>/assign/", views.assign, name="assign"),
    path("courses/<int:course_id>/export.json", views.export_course, name="export"),
    path("lessons/<int:lesson_id>/done/", views.lesson_done, name="lesson_done"),
    path("certificates/<str:code>/pdf/", views.certificate_pdf, name="certificate_pdf"),
    path("certificates/<str:code>/badge.json", views.certificate_badge, name="badge"),
    path("certificates/<str:code>/revoke/", views.certificate_revoke, name="revoke"),
    path("verify/", views.verify, name="verify_form"),
    path("verify/<str:code>/", views.verify, name="verify"),
    path("issuer.json", views.issuer, name="issuer"),
    path("reports/", views.reports, name="reports"),
    path("reports/office/", views.office_report, name="office_report"),
    path("reports/<slug:code>/", views.library_report, name="library_report"),
    path("compliance/<slug:code>/", views.compliance, name="compliance"),
]
