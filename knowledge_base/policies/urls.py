from django.urls import path

from .views import acknowledgement, changes, documents, procedures, reading, reports, reviews

app_name = "policies"

# Fixed words are lower case; policy codes (CIRC-004) are upper case, so they never clash.
urlpatterns = [
    path("", reading.index, name="index"),
    path("mine/", acknowledgement.mine, name="mine"),
    path("manual.pdf", documents.manual_pdf, name="manual_pdf"),
    path("reports/acknowledgements/", reports.report, name="report"),
    path("reports/acknowledgements.pdf", reports.report_pdf, name="report_pdf"),
    path("reports/reviews/", reviews.reviews, name="reviews"),
    path("changes/<int:pk>/", changes.change, name="change"),
    path("<str:code>/", reading.detail, name="detail"),
    path("<str:code>/v<int:number>/", reading.version, name="version"),
    path("<str:code>/v<int:number>/pdf/", documents.version_pdf, name="version_pdf"),
    path("<str:code>/compare/", reading.compare, name="compare"),
    path("<str:code>/acknowledge/", acknowledgement.acknowledge, name="acknowledge"),
    path("<str:code>/quiz/", acknowledgement.acknowledge_by_quiz, name="acknowledge_by_quiz"),
    path("<str:code>/reviewed/", reviews.mark_reviewed, name="mark_reviewed"),
    path(
        "<str:code>/local/<slug:library_code>/", procedures.local_procedure, name="local_procedure"
    ),
]
