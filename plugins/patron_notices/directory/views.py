"""Patron directory pages. Every view checks access for the library it shows."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from portal import access, exports
from portal.members.models import MemberLibrary

from . import selectors, services, uploads
from .forms import MappingForm, PreferencesForm, UploadForm
from .models import ImportJob


@login_required
def overview(request):
    rows = selectors.counts_by_library(request.user)
    if not rows:
        raise PermissionDenied
    return render(request, "patron_notices/overview.html", {"rows": rows})


@login_required
def patron_list(request, code):
    library = get_object_or_404(MemberLibrary, code=code)
    audited = services.check_view_patrons(request.user, library)
    q = request.GET.get("q", "").strip()[:100]
    page_obj = Paginator(selectors.patrons_of(library, q), 50).get_page(request.GET.get("page"))
    if audited:
        services.record_patron_view(request.user, library, f"list page {page_obj.number}")
    return render(
        request,
        "patron_notices/patron_list.html",
        {
            "library": library,
            "page_obj": page_obj,
            "q": q,
            "audited": audited,
            "may_import": access.can(request.user, selectors.IMPORT, library),
        },
    )


@login_required
def import_upload(request, code):
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, selectors.IMPORT, library):
        raise PermissionDenied
    if request.method == "POST" and _too_large(request):
        # Refused before the body is read: nothing of it is written to disk.
        form = UploadForm({"preset": "generic"}, {})
        form.is_valid()
        form.errors["file"] = form.error_class(
            [_("The file is larger than %(n)d MB.") % {"n": uploads.max_bytes() >> 20}]
        )
        return render(
            request, "patron_notices/import_upload.html", {"form": form, "library": library}
        )
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            header = services.check_start_import(request.user, library, upload)
        except ValidationError as exc:
            form.add_error("file", exc.messages[0])
        else:
            job, _header = services.do_upload_import(
                request.user, library, upload, form.cleaned_data["preset"], header
            )
            return redirect("patron_notices:import_mapping", job.pk)
    return render(request, "patron_notices/import_upload.html", {"form": form, "library": library})


def _too_large(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > uploads.max_bytes() + 64 * 1024  # the form's other fields


def _job_for(user, pk) -> ImportJob:
    job = get_object_or_404(ImportJob.objects.select_related("library"), pk=pk)
    if not access.can(user, selectors.IMPORT, job.library):
        raise PermissionDenied
    return job


@login_required
def import_mapping(request, pk):
    job = _job_for(request.user, pk)
    if job.status != ImportJob.Status.MAPPING:
        return redirect("patron_notices:import_progress", job.pk)
    try:
        with job.file.open("rb") as stream:
            header = uploads.check_upload(stream)
    except (uploads.UploadRefused, OSError, csv.Error) as exc:
        # A file kept before uploads were checked, or gone from storage: say so, once.
        services.do_refuse_import(job, str(exc) if isinstance(exc, uploads.UploadRefused) else "")
        return redirect("patron_notices:import_progress", job.pk)
    form = MappingForm(request.POST or None, header=header, mapping=job.mapping)
    if request.method == "POST" and form.is_valid():
        try:
            services.check_run_import(request.user, job, form.mapping())
        except ValidationError as exc:
            form.add_error(None, exc.messages[0])
        else:
            services.do_run_import(
                request.user,
                job,
                form.mapping(),
                form.cleaned_data["mode"],
                form.cleaned_data["full_sync"],
            )
            return redirect("patron_notices:import_progress", job.pk)
    return render(request, "patron_notices/import_mapping.html", {"form": form, "job": job})


@login_required
def import_progress(request, pk):
    job = _job_for(request.user, pk)
    return render(request, "patron_notices/import_progress.html", {"job": job})


@login_required
def import_status(request, pk):
    job = _job_for(request.user, pk)
    return JsonResponse(selectors.import_progress(job))


@login_required
def import_problems(request, pk):
    """The rows that were not imported, as CSV, for the library to correct in its ILS."""
    job = _job_for(request.user, pk)
    response = exports.csv_response(f"import-{job.pk}-problems.csv")
    writer = exports.writer(response)
    writer.writerow([_("line"), _("column"), _("problem"), _("row")])
    for p in job.problems.all().iterator(chunk_size=2000):
        writer.writerow([p.line, p.column, p.message, p.raw])
    return response


def preferences(request, token):
    """A patron's preferences, reached by a signed link without an account."""
    try:
        contact = services.contact_from_token(token)
    except PermissionDenied as exc:
        return render(request, "patron_notices/link_refused.html", {"reason": str(exc)}, status=403)
    patrons = list(contact.patrons.filter(expired_at__isnull=True).select_related("library"))
    libraries = [p.library for p in patrons]
    initial = {
        "kinds": contact.notice_kinds,
        "language": contact.language or (patrons[0].preferred_language if patrons else "en"),
        "unsubscribe": [str(p.library_id) for p in patrons if p.suppression == "unsubscribed"],
        "unsubscribe_all": contact.unsubscribed_all_at is not None,
    }
    form = PreferencesForm(request.POST or None, libraries=libraries, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.do_update_patron_preferences(
            contact,
            kinds=form.cleaned_data["kinds"],
            language=form.cleaned_data["language"],
            unsubscribe_libraries=[int(i) for i in form.cleaned_data["unsubscribe"]],
            unsubscribe_all=form.cleaned_data["unsubscribe_all"],
        )
        messages.success(request, _("Your choices are saved."))
        return redirect("patron_notices:preferences", token)
    return render(request, "patron_notices/preferences.html", {"form": form})
