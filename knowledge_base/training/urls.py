from django.urls import path

from .views import assignment, certificates, courses, reports

app_name = "training"

urlpatterns = [
    path("me/", courses.transcript, name="transcript"),
    path("courses/<int:course_id>/enrol/", courses.enrol, name="enrol"),
    path("courses/<int:course_id>/quiz/", courses.quiz, name="quiz"),
    path("courses/<int:course_id>/assign/", assignment.assign, name="assign"),
    path("courses/<int:course_id>/export.json", courses.export_course, name="export"),
    path("lessons/<int:lesson_id>/done/", courses.lesson_done, name="lesson_done"),
    path("certificates/<str:code>/pdf/", certificates.certificate_pdf, name="certificate_pdf"),
    path("certificates/<str:code>/badge.json", certificates.certificate_badge, name="badge"),
    path("certificates/<str:code>/revoke/", certificates.certificate_revoke, name="revoke"),
    path("verify/", certificates.verify, name="verify_form"),
    path("verify/<str:code>/", certificates.verify, name="verify"),
    path("issuer.json", certificates.issuer, name="issuer"),
    path("reports/", reports.reports, name="reports"),
    path("reports/office/", reports.office_report, name="office_report"),
    path("reports/<slug:code>/", reports.library_report, name="library_report"),
    path("compliance/<slug:code>/", reports.compliance, name="compliance"),
]
