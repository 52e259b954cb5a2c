import json

from django.core.management.base import BaseCommand, CommandError

from knowledge_base.training.exchange import export_course
from knowledge_base.training.models import CoursePage


class Command(BaseCommand):
    help = "Write a course (lessons and quiz) as a versioned JSON package."

    def add_arguments(self, parser):
        parser.add_argument("course", help="The course page's id or slug.")
        parser.add_argument("-o", "--output", help="File to write; standard output otherwise.")

    def handle(self, course, output=None, **options):
        query = {"pk": int(course)} if course.isdigit() else {"slug": course}
        page = CoursePage.objects.filter(**query).first()
        if page is None:
            raise CommandError(f"No course {course!r}.")
        text = json.dumps(export_course(page), indent=2, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text)
