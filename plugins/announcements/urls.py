from django.urls import path

from . import feeds, views

app_name = "announcements"

urlpatterns = [
    path("", views.announcement_list, name="list"),
    path("archive/<int:year>/<int:month>/", views.announcement_list, name="archive"),
    path("new/", views.new_announcement, name="new"),
    path("preferences/", views.preferences, name="preferences"),
    path("preferences/renew-feed/", views.renew_feed_token, name="renew_feed"),
    path("<int:pk>/", views.announcement_detail, name="detail"),
    path("<int:pk>/read/", views.mark_read, name="mark_read"),
    path("feed/<str:token>/rss/", feeds.RssAnnouncementFeed(), name="rss"),
    path("feed/<str:token>/atom/", feeds.AtomAnnouncementFeed(), name="atom"),
    path("feed/<str:token>/calendar.ics", feeds.calendar, name="calendar"),
]
