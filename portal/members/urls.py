from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("libraries/<slug:code>/", views.library_detail, name="library_detail"),
    path("libraries/<slug:code>/people/", views.library_people, name="library_people"),
    path(
        "libraries/<slug:code>/people/<int:membership_id>/remove/",
        views.remove_person,
        name="remove_person",
    ),
]
