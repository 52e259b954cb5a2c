from django.conf import settings


def consortium(request):
    return {"consortium_name": settings.WAGTAIL_SITE_NAME}
