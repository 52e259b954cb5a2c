from django.urls import path

from . import views

app_name = "policies"

# Fixed words are lower case; policy codes (CIRC-004) are upper case, so they never clash.
urlpatterns = [
    path("", views.index, name="index"),
    path("mine/", views.mine, name="mine"),
    path("manual.pdf", views.manual_pdf, name="manual_pdf"),
    path("reports/acknowledgements/", views.report, name="report"),
    path("reports/acknowledgements.pdf", views.report_pdf, name="report_pdf"),
    path("reports/reviews/", views.reviews, name="reviews"),
    path("changes/<int:pk>/", views.change, name="change"),
    path("<str:code>/", views.detail, name="detail"),
    path("<str:code>/v<int:number>/", views.version, name="version"),
    path("<str:code>/v<int:number>/pdf/", views.version_pdf, name="version_pdf"),
    path("<str:code>/compare/", views.compare, name="compare"),
    path("<str:code>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("<str:code>/quiz/", views.acknowledge_by_quiz, name="acknowledge_by_quiz"),
    path("<str:code>/reviewed/", views.mark_reviewed, name="mark_reviewed"),
    path("<str:code>/local/<slug:library_code>/", views.local_procedure, name="local_procedure"),
]
