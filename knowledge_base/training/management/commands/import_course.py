import json

from django.core.management.base import BaseCommand, CommandError
from wagtail.models import Page, Site

from knowledge_base.training.exchange import PackageError, import_course


class Command(BaseCommand):
    help = "Create a course from a JSON package made by export_course."

    def add_arguments(self, parser):
        parser.add_argument("package", help="The JSON file.")
        parser.add_argument("--parent", type=int, help="Parent page id (default: site root).")
        parser.add_argument("--draft", action="store_true", help="Import unpublished.")

    def handle(self, package, parent=None, draft=False, **options):
        if parent:
            parent_page = Page.objects.filter(pk=parent).first()
        else:
            site = Site.objects.filter(is_default_site=True).first()
            parent_page = site.root_page if site else None
        if parent_page is None:
            raise CommandError("No parent page to import under.")
        with open(package, encoding="utf-8") as handle:
            data = json.load(handle)
        try:
            course = import_course(parent_page, data, publish=not draft)
        except PackageError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Imported {course.title!r} as page {course.pk}.")
