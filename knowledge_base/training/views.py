"""Thin views: each checks access on the server, then calls a selector or a service."""

from __future__ import annotations

import base64
import json

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import access, exports
from portal.members.models import MemberLibrary
from portal.members.roles import role_choices
from portal.pdf import render_pdf
from portal.reports import people_report

from . import badges, selectors, services
from .forms import AssignForm, BadgeForm, QuizSubmitForm, RevokeCertificateForm
from .models import Certificate, CoursePage, Enrolment, LessonPage, QuizAttempt

# --- taking a course -------------------------------------------------------------------


def serve_course(request, course: CoursePage):
    """A course page, reached through Wagtail's page tree (``wagtail_hooks``)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    library = services.library_for_taking(request.user, course)
    manager = access.can_anywhere(request.user, services.MANAGE)
    if library is None and not manager:
        raise PermissionDenied
    context = course.get_context(request)
    lessons = [lesson for lesson, _done in context["lessons"]]
    enrolment = services.current_enrolment(request.user, course)
    done = services.lessons_done(enrolment) if enrolment else set()
    quiz = context["quiz"]
    context.update(
        lessons=[(lesson, lesson.pk in done) for lesson in lessons],
        enrolment=enrolment,
        resume=services.resume_target(enrolment, lessons) if enrolment else None,
        attempts_left=services.attempts_left(enrolment, quiz) if enrolment and quiz else None,
        certificate=getattr(getattr(enrolment, "completion", None), "certificate", None)
        if enrolment and enrolment.state == Enrolment.State.COMPLETED
        else None,
        can_assign=access.can_anywhere(request.user, services.ASSIGN),
        can_manage=manager,
    )
    return render(request, course.get_template(request), context)


def serve_lesson(request, lesson: LessonPage):
    """A lesson page, reached through Wagtail's page tree (``wagtail_hooks``)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        enrolment = services.check_lesson(request.user, lesson)
    except PermissionDenied:
        if access.can_anywhere(request.user, services.MANAGE):
            enrolment = None  # authors preview their lessons without enrolling
        else:
            messages.info(request, _("Enrol in the course to take its lessons."))
            return redirect(lesson.course.url)
    if enrolment:
        services.do_view_lesson(enrolment, lesson)
    context = lesson.get_context(request)
    done = services.lessons_done(enrolment) if enrolment else set()
    context.update(enrolment=enrolment, done=lesson.pk in done)
    return render(request, lesson.get_template(request), context)


@login_required
@require_POST
def enrol(request, course_id: int):
    course = get_object_or_404(CoursePage, pk=course_id)
    try:
        library = services.check_enrol(request.user, course)
    except services.TrainingError as exc:
        messages.error(request, str(exc))
        return redirect(course.url)
    enrolment = services.do_enrol(request.user, course, library)
    lesson = services.resume_target(enrolment, list(course.lessons()))
    return redirect(lesson.url if lesson else course.url)


@login_required
@require_POST
def lesson_done(request, lesson_id: int):
    lesson = get_object_or_404(LessonPage, pk=lesson_id)
    enrolment = services.check_lesson(request.user, lesson)
    completion = services.do_mark_lesson_done(enrolment, lesson)
    course = enrolment.course
    if completion:
        messages.success(request, _("You have completed this course."))
        return redirect(course.url)
    lessons = list(course.lessons())
    following = [item for item in lessons if item.path > lesson.path]
    if following:
        return redirect(following[0].url)
    if services.quiz_of(course):
        return redirect("training:quiz", course_id=course.pk)
    return redirect(course.url)


@login_required
def quiz(request, course_id: int):
    course = get_object_or_404(CoursePage, pk=course_id)
    try:
        enrolment, the_quiz = services.check_start_attempt(request.user, course)
    except services.TrainingError as exc:
        messages.info(request, str(exc))
        return redirect(course.url)
    if request.method == "POST":
        form = QuizSubmitForm(request.POST)
        if not form.is_valid():
            raise Http404
        attempt = get_object_or_404(
            QuizAttempt, pk=form.cleaned_data["attempt"], enrolment=enrolment
        )
        answers = form.answers(attempt)
        try:
            services.check_submit_attempt(request.user, attempt.pk, answers)
            result = services.do_submit_attempt(attempt, answers)
        except services.TrainingError as exc:
            messages.error(request, str(exc))
            return redirect("training:quiz", course_id=course.pk)
        enrolment.refresh_from_db()
        return render(
            request,
            "training/quiz_result.html",
            {
                "course": course,
                "quiz": the_quiz,
                "result": result,
                "enrolment": enrolment,
                "attempts_left": services.attempts_left(enrolment, the_quiz),
                "lessons_left": services.resume_target(enrolment, list(course.lessons())),
            },
        )
    try:
        attempt = services.do_start_attempt(enrolment, the_quiz)
    except services.AttemptsExhausted as exc:
        messages.error(request, str(exc))
        return redirect(course.url)
    questions = list(the_quiz.questions.prefetch_related("options"))
    shown = []
    for question in questions:
        options = {o.pk: o for o in question.options.all()}
        order = attempt.option_order.get(str(question.pk), list(options))
        shown.append((question, [options[i] for i in order if i in options]))
    return render(
        request,
        "training/quiz.html",
        {
            "course": course,
            "quiz": the_quiz,
            "attempt": attempt,
            "questions": shown,
            "attempts_left": services.attempts_left(enrolment, the_quiz),
        },
    )


@login_required
def transcript(request):
    return render(request, "training/transcript.html", selectors.transcript(request.user))


# --- certificates --------------------------------------------------------------------


def _certificate_for(request, code: str) -> Certificate:
    certificate = get_object_or_404(
        Certificate.objects.select_related("course", "library", "user"), code=code
    )
    user = request.user
    if certificate.user_id == user.pk or access.can(user, selectors.REPORT, certificate.library):
        return certificate
    raise Http404


def qr_data_uri(text: str) -> str:
    """A QR code as an inline SVG data URI: no file, no network."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def certificate_context(certificate: Certificate, base_url: str) -> dict:
    verify_url = base_url.rstrip("/") + reverse("training:verify", args=[certificate.code])
    return {
        "certificate": certificate,
        "verify_url": verify_url,
        "qr": qr_data_uri(verify_url),
    }


def render_certificate(certificate: Certificate, base_url: str) -> bytes:
    return render_pdf("training/pdf/certificate.html", certificate_context(certificate, base_url))


@login_required
def certificate_pdf(request, code: str):
    certificate = _certificate_for(request, code)
    pdf = render_certificate(certificate, request.build_absolute_uri("/"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.code}.pdf"'
    return response


@login_required
def certificate_badge(request, code: str):
    certificate = _certificate_for(request, code)
    credential = badges.credential(certificate, request.build_absolute_uri("/"))
    response = HttpResponse(
        json.dumps(credential, indent=2, ensure_ascii=False), content_type="application/ld+json"
    )
    response["Content-Disposition"] = f'attachment; filename="badge-{certificate.code}.json"'
    return response


@login_required
@require_POST
def certificate_revoke(request, code: str):
    certificate = get_object_or_404(Certificate, code=code)
    form = RevokeCertificateForm(request.POST)
    try:
        services.check_revoke(request.user, certificate)
    except services.TrainingError as exc:
        messages.error(request, str(exc))
    else:
        if form.is_valid():
            services.do_revoke(request.user, certificate, form.cleaned_data["reason"])
            messages.success(request, _("The certificate was revoked."))
        else:
            messages.error(request, _("Keep the reason under 255 characters."))
    return redirect("training:verify", code=code)


def verify(request, code: str | None = None):
    """Public: is this certificate genuine, expired or revoked? Shows no email address.

    A POST carries a badge file (``badge.json``, signed now or before the switch to
    eddsa-rdfc-2022): its proof is checked, then the certificate it names as for a code.
    """
    badge = None
    if request.method == "POST":
        form = BadgeForm(request.POST, request.FILES)
        badge = badges.check_badge(form.raw() if form.is_valid() else "")
        code = badge.code or ""
    else:
        code = (code or request.GET.get("code", "")).strip().upper()
        if code and code != request.resolver_match.kwargs.get("code"):
            return redirect("training:verify", code=code)
    certificate = (
        Certificate.objects.filter(code=code).select_related("course").first() if code else None
    )
    status = certificate.status() if certificate else ("unknown" if code else "")
    return render(
        request,
        "training/verify.html",
        {
            "code": code,
            "certificate": certificate,
            "status": status,
            "badge": badge,
            "can_revoke": certificate is not None
            and status != "revoked"
            and request.user.is_authenticated
            and access.can(request.user, services.MANAGE, certificate.library),
        },
        status=404 if status == "unknown" else 200,
    )


def issuer(request):
    """The badge issuer's public key, for verifiers that want it spelled out."""
    return JsonResponse(
        {
            "id": badges.issuer_did(),
            "type": "Ed25519",
            "publicKeyBase64": badges.public_key_b64(),
            "cryptosuite": badges.CRYPTOSUITE,
        }
    )


# --- reports -------------------------------------------------------------------------


def _csv_response(filename: str, header: list, rows) -> HttpResponse:
    return exports.csv_response(filename, header, rows)


def _pdf_response(filename: str, template: str, context: dict) -> HttpResponse:
    response = HttpResponse(render_pdf(template, context), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# Lists that grow with the consortium are paged, never cut.
PAGE_SIZE = 50


@login_required
def reports(request):
    libraries = selectors.report_libraries(request.user)
    q = request.GET.get("q", "").strip()[:100]
    if q:
        libraries = libraries.filter(Q(name__icontains=q) | Q(code__iexact=q))
    page = Paginator(libraries, PAGE_SIZE).get_page(request.GET.get("page"))
    if not page.object_list and not q:
        raise PermissionDenied
    return render(
        request,
        "training/reports.html",
        {
            "libraries": page,
            "q": q,
            "query": urlencode({"q": q}) if q else "",
            "office": access.is_consortium_admin(request.user),
        },
    )


def _report_library(request, code: str) -> MemberLibrary:
    library = get_object_or_404(MemberLibrary, code=code)
    if not access.can(request.user, selectors.REPORT, library):
        raise PermissionDenied
    return library


def _status_label(enrolment) -> str:
    if enrolment is None:
        return ""
    return {
        "completed": _("Completed"),
        "overdue": _("Overdue"),
        "in_progress": _("In progress"),
        "enrolled": _("Not started"),
    }[enrolment.status]


@login_required
def library_report(request, code: str):
    library = _report_library(request, code)
    report = selectors.library_report(library)
    fmt = request.GET.get("format")
    if fmt == "csv":
        header = [_("Name"), _("Email"), _("Roles"), *[c.title for c in report.courses]]
        rows = (
            [p.name, p.email, ", ".join(p.roles), *[_status_label(e) for e in cells]]
            for p, cells in report.rows()
        )
        return _csv_response(f"training-{library.code}.csv", header, rows)
    context = {
        "library": library,
        "report": report,
        "totals": report.totals(),
        "roles": role_names(),
    }
    if fmt == "pdf":
        return _pdf_response(
            f"training-{library.code}.pdf", "training/pdf/library_report.html", context
        )
    return render(request, "training/library_report.html", context)


@login_required
def office_report(request):
    if not access.is_consortium_admin(request.user):
        raise PermissionDenied
    rows = selectors.office_report(selectors.report_libraries(request.user))
    totals = selectors.office_totals(rows)
    fmt = request.GET.get("format")
    if fmt == "csv":
        header = [
            _("Library"),
            _("Code"),
            _("People"),
            _("Assigned"),
            _("Completed"),
            _("In progress"),
            _("Overdue"),
            _("Not started"),
        ]
        return _csv_response(
            "training-all-libraries.csv",
            header,
            (
                [
                    r.library.name,
                    r.library.code,
                    r.people,
                    r.assigned,
                    r.completed,
                    r.in_progress,
                    r.overdue,
                    r.not_started,
                ]
                for r in rows
            ),
        )
    context = {"rows": rows, "totals": totals, "today": timezone.localdate()}
    if fmt == "pdf":
        return _pdf_response(
            "training-all-libraries.pdf", "training/pdf/office_report.html", context
        )
    # On screen: a page of the libraries (the totals stay the consortium's), found by name.
    q = request.GET.get("q", "").strip()[:100]
    shown = [r for r in rows if q.lower() in r.library.name.lower()] if q else rows
    context.update(
        rows=Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page")),
        q=q,
        query=urlencode({"q": q}) if q else "",
    )
    return render(request, "training/office_report.html", context)


@login_required
def compliance(request, code: str):
    """People of one library beside every enabled plugin's columns (the core report hook)."""
    library = _report_library(request, code)
    report = people_report(library)
    if request.GET.get("format") == "csv":
        header = [_("Name"), _("Email"), _("Roles"), *[str(c.title) for c in report.columns]]
        rows = (
            [p.name, p.email, ", ".join(p.roles), *[c.text for c in cells]]
            for p, cells in report.rows()
        )
        return _csv_response(f"compliance-{library.code}.csv", header, rows)
    return render(
        request,
        "training/compliance.html",
        {"library": library, "report": report, "roles": role_names()},
    )


# --- assignment and exchange ---------------------------------------------------------


@login_required
def assign(request, course_id: int):
    course = get_object_or_404(CoursePage, pk=course_id)
    allowed = access.libraries_for(request.user, services.ASSIGN)
    if not allowed.exists():
        raise PermissionDenied
    form = AssignForm(request.POST or None, libraries=allowed)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        assignment = services.AssignmentRequest(
            course=course,
            library=data["library"],
            roles=data["roles"],
            libraries=list(data["libraries"]),
            due_on=data["due_on"],
            days_to_complete=data["days_to_complete"],
        )
        try:
            services.check_assign(request.user, assignment)
        except services.TrainingError as exc:
            form.add_error(None, str(exc))
        else:
            services.do_assign(request.user, assignment)
            messages.success(request, _("The course was assigned."))
            return redirect(course.url)
    return render(
        request,
        "training/assign.html",
        {"course": course, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
def export_course(request, course_id: int):
    from .exchange import export_course as build

    if not access.can_anywhere(request.user, services.MANAGE):
        raise PermissionDenied
    course = get_object_or_404(CoursePage, pk=course_id)
    response = JsonResponse(build(course), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="course-{course.slug}.json"'
    return response


def role_names() -> dict[str, str]:
    """Every role's name as the office gave it, retired ones too (old assignments name them)."""
    return dict(role_choices(include_retired=True))
