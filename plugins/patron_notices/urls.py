app_name = "patron_notices"

urlpatterns: list = []
