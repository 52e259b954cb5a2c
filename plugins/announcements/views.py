"""Portal pages for announcements; each checks access through the selectors and services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import access
from portal.home.kept import kept_part

from . import selectors, services
from .forms import AnnouncementForm, PreferenceForm, SearchForm


def _require_reader(user) -> None:
    if not access.can_anywhere(user, selectors.VIEW):
        raise PermissionDenied


@login_required
def announcement_list(request, year: int | None = None, month: int | None = None):
    _require_reader(request.user)
    form = SearchForm(request.GET or None)
    q = category = ""
    if form.is_valid():
        q, category = form.cleaned_data["q"], form.cleaned_data["category"]

    def listed():
        pages = selectors.search(request.user, q=q, category=category, year=year, month=month)
        paging = request.GET.copy()  # the search and category, kept across pages
        paging.pop("page", None)
        context = {
            "page_obj": Paginator(pages, 20).get_page(request.GET.get("page")),
            "paging": paging.urlencode(),
            "months": selectors.archive_months(request.user),
        }
        html = render_to_string("announcements/_list.html", context, request)
        # An announcement leaves the list when it expires, with nothing written.
        return html, selectors.next_expiry(request.user)

    return render(
        request,
        "announcements/list.html",
        {
            "form": form,
            # The person's list, kept between visits (portal.home.kept) under the address,
            # which holds the search, the category, the month and the page.
            "listed": kept_part(request, "announcements", "list", listed, personal=True),
            "year": year,
            "month": month,
            "may_publish": selectors.may_publish(request.user),
        },
    )


def serve_announcement(request, page):
    """An announcement reached through the page tree (``wagtail_hooks``): only its audience
    may read it, whatever URL they came by, and at one address, the portal's, which mail
    and feeds link to."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not selectors.announcements_for(request.user).filter(pk=page.pk).exists():
        raise Http404
    return redirect("announcements:detail", page.pk)


@login_required
def announcement_detail(request, pk: int):
    page = selectors.announcements_for(request.user).filter(pk=pk).first()
    if page is None:
        raise Http404
    return render(request, "announcements/announcement_page.html", {"page": page, "self": page})


@login_required
@require_POST
def mark_read(request, pk: int):
    try:
        page = services.check_mark_read(request.user, pk)
    except PermissionDenied as exc:
        raise Http404 from exc
    services.do_mark_read(request.user, page)
    target = request.POST.get("next") or "dashboard"
    if target != "dashboard" and not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "dashboard"
    return redirect(target)


@login_required
def new_announcement(request):
    user = request.user
    libraries = selectors.publishable_libraries(user)
    allow_everyone = selectors.may_publish_to_everyone(user)
    if not allow_everyone and not libraries.exists():
        raise PermissionDenied
    form = AnnouncementForm(
        request.POST or None, libraries=libraries, allow_everyone=allow_everyone
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        draft = services.Draft(
            title=data["title"],
            body=services.plain_text_to_rich_text(data["body"]),
            category=data["category"],
            priority=data["priority"],
            everyone=data.get("everyone", False),
            libraries=list(data["libraries"]),
            roles=data["roles"],
            go_live_at=data["go_live_at"],
            expire_at=data["expire_at"],
            event_start=data["event_start"],
            event_end=data["event_end"],
            event_location=data["event_location"],
        )
        try:
            services.check_publish_announcement(user, draft)
        except (PermissionDenied, ValidationError) as exc:
            form.add_error(None, exc.messages[0] if hasattr(exc, "messages") else str(exc))
        else:
            page = services.do_publish_announcement(user, draft)
            if page.live:
                messages.success(request, _("Announcement published."))
            else:
                messages.success(request, _("Announcement scheduled."))
            return redirect("announcements:list")
    return render(request, "announcements/new.html", {"form": form})


@login_required
def preferences(request):
    _require_reader(request.user)
    pref = selectors.preference_of(request.user)
    form = PreferenceForm(request.POST or None, instance=pref)
    if request.method == "POST" and form.is_valid():
        services.do_update_preferences(
            request.user,
            urgent_immediately=form.cleaned_data["urgent_immediately"],
            digest=form.cleaned_data["digest"],
        )
        messages.success(request, _("Preferences saved."))
        return redirect("announcements:preferences")
    return render(request, "announcements/preferences.html", {"form": form, "pref": pref})


@login_required
@require_POST
def renew_feed_token(request):
    _require_reader(request.user)
    services.do_renew_feed_token(request.user)
    messages.success(request, _("New feed addresses made; the old ones no longer work."))
    return redirect("announcements:preferences")
