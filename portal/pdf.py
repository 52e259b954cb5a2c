"""HTML template -> PDF with WeasyPrint.

Fonts ship in ``portal/static/fonts`` so a PDF looks the same on every machine, and
rendering never touches the network: the URL fetcher serves only the project's static
and media files (and inline ``data:`` URLs) and refuses everything else with
:class:`PDFResourceRefused`. Templates extend ``pdf/base.html`` for the shared print
layout (consortium name in the header, page numbers in the footer).
"""

from __future__ import annotations

import mimetypes
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils._os import safe_join
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

# Relative URLs in a template (``{% static %}`` gives ``/static/...``) resolve against
# this origin; the reserved ``.invalid`` name can never reach a real host.
BASE_URL = "https://pdf.concord.invalid/"


class PDFError(Exception):
    """A PDF could not be rendered."""


class PDFResourceRefused(PDFError):
    """A template asked for a resource outside the project's static and media files."""


class LocalOnlyFetcher(URLFetcher):
    """Serves static and media files from disk; refuses every other URL.

    WeasyPrint 70 takes a ``URLFetcher`` instance (not a plain function) and calls its
    ``fetch(url, headers=None)``. With ``fail_on_errors`` a refusal stops the render
    instead of leaving a silent gap in the document.
    """

    def __init__(self):
        super().__init__(allowed_protocols=("https", "http", "file", "data"), fail_on_errors=True)
        self.fetched: list[str] = []

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            # Inline data (a QR code, say) needs no network; the base class decodes it.
            return super().fetch(url, headers)
        path = self.local_path(url)
        self.fetched.append(url)
        mime_type, _encoding = mimetypes.guess_type(path.name)
        return URLFetcherResponse(
            url,
            body=path.read_bytes(),
            headers={"Content-Type": mime_type or "application/octet-stream"},
        )

    @staticmethod
    def local_path(url: str) -> Path:
        """The file on disk that ``url`` names; raises when it is not ours to serve."""
        for prefix, resolve in (
            (settings.STATIC_URL, _static_file),
            (settings.MEDIA_URL, _media_file),
        ):
            relative = _relative_to(url, prefix)
            if relative is not None:
                path = resolve(relative)
                if path is None:
                    raise PDFError(f"PDF resource {url!r} is not among the project's files.")
                return path
        raise PDFResourceRefused(
            f"PDF rendering only loads the project's static and media files; refused {url!r}."
        )


def _relative_to(url: str, prefix: str) -> str | None:
    """The part of ``url`` below ``prefix`` (a site-relative or absolute base URL)."""
    if not prefix:
        return None
    if "://" in prefix:
        # STATIC_URL / MEDIA_URL on another host (a CDN): match it literally.
        if not url.startswith(prefix):
            return None
        relative = url[len(prefix) :]
    else:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}/" != BASE_URL or not parts.path.startswith(prefix):
            return None
        relative = parts.path[len(prefix) :]
    relative = posixpath.normpath(unquote(relative.split("?")[0].split("#")[0]))
    if relative.startswith(("/", "..")) or relative == ".":
        return None
    return relative


def _static_file(relative: str) -> Path | None:
    found = finders.find(relative)
    if not found and settings.STATIC_ROOT:
        candidate = Path(safe_join(settings.STATIC_ROOT, relative))
        found = candidate if candidate.is_file() else None
    return Path(found) if found else None


def _media_file(relative: str) -> Path | None:
    candidate = Path(safe_join(settings.MEDIA_ROOT, relative))
    return candidate if candidate.is_file() else None


def render_pdf(template_name: str, context: dict | None = None, request=None) -> bytes:
    """Render the Django template ``template_name`` with ``context`` to PDF bytes.

    Raises :class:`PDFResourceRefused` when the template refers to anything other than the
    project's static or media files, and :class:`PDFError` when a listed file is missing.
    """
    context = {"consortium_name": settings.WAGTAIL_SITE_NAME, **(context or {})}
    html = render_to_string(template_name, context, request=request)
    fetcher = LocalOnlyFetcher()
    try:
        return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(
            font_config=FontConfiguration()
        )
    except FatalURLFetchingError as exc:
        # WeasyPrint raises a BaseException here; hand callers (and Celery) an Exception.
        cause = exc.__cause__
        if isinstance(cause, PDFError):
            raise type(cause)(str(cause)) from exc
        raise PDFError(f"{template_name}: {exc} ({cause})") from exc
