from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("appointments/", views.appointments, name="appointments"),
    path(
        "appointments/<int:pk>/<slug:answer>/",
        views.answer_appointment,
        name="answer_appointment",
    ),
    path("libraries/<slug:code>/", views.library_detail, name="library_detail"),
    path("libraries/<slug:code>/people/", views.library_people, name="library_people"),
    path(
        "libraries/<slug:code>/people/<int:membership_id>/remove/",
        views.remove_person,
        name="remove_person",
    ),
]
