"""Courses as versioned JSON packages, so consortia can share them.

Format ``concord-course`` version 1::

    {"format": "concord-course", "version": 1, "exported_at": "...",
     "course": {"title", "slug", "description", "audience", "estimated_minutes",
                "recertify_months", "prerequisites": [slug, ...]},
     "lessons": [{"title", "slug", "body": [{"type", "value"}, ...]}, ...],
     "quiz": null | {"title", "pass_mark", "max_attempts", "shuffle",
                     "questions": [{"text", "kind",
                                    "options": [{"text", "correct", "feedback"}]}]},
     "omitted": [{"lesson", "type"}, ...]}

Images and documents live in this site's media library and do not travel: their blocks
are listed under ``omitted`` so the importing office knows what to add back. Importing
refuses an unknown format or a newer version than it understands.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from wagtail.models import Page

from .models import CoursePage, LessonPage, Option, Question, Quiz

FORMAT = "concord-course"
VERSION = 1
PORTABLE_BLOCKS = {"text", "video", "callout"}


class PackageError(ValueError):
    pass


def export_course(course: CoursePage) -> dict:
    lessons, omitted = [], []
    for lesson in course.lessons():
        body = []
        for block in lesson.body.raw_data:
            if block["type"] in PORTABLE_BLOCKS:
                body.append({"type": block["type"], "value": block["value"]})
            else:
                omitted.append({"lesson": lesson.slug, "type": block["type"]})
        lessons.append({"title": lesson.title, "slug": lesson.slug, "body": body})
    quiz = Quiz.objects.filter(course=course).first()
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "course": {
            "title": course.title,
            "slug": course.slug,
            "description": course.description,
            "audience": course.audience,
            "estimated_minutes": course.estimated_minutes,
            "recertify_months": course.recertify_months,
            "prerequisites": [p.slug for p in course.prerequisites.all()],
        },
        "lessons": lessons,
        "quiz": None
        if quiz is None
        else {
            "title": quiz.title,
            "pass_mark": quiz.pass_mark,
            "max_attempts": quiz.max_attempts,
            "shuffle": quiz.shuffle,
            "questions": [
                {
                    "text": q.text,
                    "kind": q.kind,
                    "options": [
                        {"text": o.text, "correct": o.correct, "feedback": o.feedback}
                        for o in q.options.all()
                    ],
                }
                for q in quiz.questions.prefetch_related("options")
            ],
        },
        "omitted": omitted,
    }


def _free_slug(parent: Page, slug: str) -> str:
    taken = set(parent.get_children().values_list("slug", flat=True))
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate


def import_course(parent: Page, package: dict, publish: bool = True) -> CoursePage:
    """Create the course of ``package`` under ``parent``; prerequisites are matched by slug
    among the courses already on the site (missing ones are skipped)."""
    if not isinstance(package, dict) or package.get("format") != FORMAT:
        raise PackageError("This is not a Concord course package.")
    version = package.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise PackageError(f"Course package version {version!r} is not supported here.")
    data = package.get("course") or {}
    if not data.get("title"):
        raise PackageError("The package has no course title.")
    with transaction.atomic():
        course = CoursePage(
            title=data["title"],
            slug=_free_slug(parent, slugify(data.get("slug") or data["title"])[:200]),
            description=data.get("description", ""),
            audience=data.get("audience", "")[:255],
            estimated_minutes=int(data.get("estimated_minutes") or 30),
            recertify_months=data.get("recertify_months") or None,
            live=publish,
        )
        parent.add_child(instance=course)
        prerequisites = list(CoursePage.objects.filter(slug__in=data.get("prerequisites", [])))
        if prerequisites:
            course.prerequisites.set(prerequisites)
            course.save()
        for item in package.get("lessons", []):
            body = [b for b in item.get("body", []) if b.get("type") in PORTABLE_BLOCKS]
            lesson = LessonPage(
                title=item["title"],
                slug=_free_slug(course, slugify(item.get("slug") or item["title"])[:200]),
                body=body,
                live=publish,
            )
            course.add_child(instance=lesson)
        quiz_data = package.get("quiz")
        if quiz_data:
            quiz = Quiz.objects.create(
                course=course,
                title=quiz_data.get("title") or "Quiz",
                pass_mark=int(quiz_data.get("pass_mark", 80)),
                max_attempts=quiz_data.get("max_attempts"),
                shuffle=bool(quiz_data.get("shuffle", True)),
            )
            for q_index, q in enumerate(quiz_data.get("questions", [])):
                question = Question.objects.create(
                    quiz=quiz, text=q["text"], kind=q.get("kind", "single"), sort_order=q_index
                )
                Option.objects.bulk_create(
                    Option(
                        question=question,
                        text=o["text"],
                        correct=bool(o.get("correct")),
                        feedback=o.get("feedback", ""),
                        sort_order=o_index,
                    )
                    for o_index, o in enumerate(q.get("options", []))
                )
    return course
