from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("libraries/<slug:code>/", views.library_detail, name="library_detail"),
]
