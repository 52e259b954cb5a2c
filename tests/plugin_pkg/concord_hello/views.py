from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from portal import access

from .apps import SAY_HELLO


def index(request):
    if not access.can_anywhere(request.user, SAY_HELLO):
        raise PermissionDenied
    return HttpResponse("Hello from the plugin.")
