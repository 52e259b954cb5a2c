from django.urls import path

from . import views

app_name = "governance"

urlpatterns = [
    path("", views.proposal_list, name="proposals"),
    path("register/", views.register, name="register"),
    path("proxies/", views.proxies, name="proxies"),
    path("proposals/<int:pk>/", views.proposal_detail, name="proposal"),
    path("proposals/<int:pk>/vote/", views.vote, name="vote"),
    path("proposals/<int:pk>/comment/", views.comment, name="comment"),
    path("proposals/<int:pk>/manage/", views.manage, name="manage"),
    path("proposals/<int:pk>/results/", views.results, name="results"),
    path("proposals/<int:pk>/chart.svg", views.chart, name="chart"),
    path("proposals/<int:pk>/ballots/", views.ballot_list, name="ballots"),
    path("proposals/<int:pk>/ballots.json", views.ballot_record, name="ballot_record"),
    path("meetings/", views.meeting_list, name="meetings"),
    path("meetings/<int:pk>/minutes.pdf", views.minutes_pdf, name="minutes"),
]
