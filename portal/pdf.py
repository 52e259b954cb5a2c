"""HTML template -> PDF with WeasyPrint.

Fonts ship in ``portal/static/fonts`` so a PDF looks the same on every machine, and
rendering never reaches out to anything but the portal's own storage: the URL fetcher
serves only the project's static and media files (media from object storage when the
deployment keeps them there) and inline ``data:`` URLs, and refuses everything else with
:class:`PDFResourceRefused`. Templates extend ``pdf/base.html`` for the shared print
layout (consortium name in the header, page numbers in the footer).

Every PDF is tagged PDF/UA-1 (ISO 14289-1): a structure tree built from the HTML
(headings, paragraphs, lists, tables with their header cells, figures with the ``alt``
text of their images), the document's title (``<title>``) shown in the viewer's title
bar, its language (``<html lang>``), and the page furniture (running header, page
numbers) marked as artifacts. Documents meant to be archived (minutes, the policy
manual, the resolution register; their templates fill the ``archival`` block of
``pdf/base.html``) are PDF/A-2a as well: WeasyPrint writes one variant at a time, so
they are rendered as PDF/A-2a (which tags them the same way) and :func:`_claim_pdf_ua`
adds the PDF/UA identification to their XMP metadata. A finisher also marks the page furniture as
artifacts, gives table header cells their ``/Scope`` and makes link annotations
printable. docs/documents.md says how the PDFs are checked.
"""

from __future__ import annotations

import mimetypes
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pydyf
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.storage import FileSystemStorage, storages
from django.template.loader import render_to_string
from django.utils._os import safe_join
from weasyprint import HTML
from weasyprint.pdf.metadata import NS as XMP_NAMESPACES
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from portal.context_processors import consortium_name

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
        stored = _stored_media(url)
        if stored is not None:
            self.fetched.append(url)
            mime_type, _encoding = mimetypes.guess_type(posixpath.basename(stored))
            with storages["default"].open(stored, "rb") as handle:
                body = handle.read()
            return URLFetcherResponse(
                url, body=body, headers={"Content-Type": mime_type or "application/octet-stream"}
            )
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


def _stored_media(url: str) -> str | None:
    """The name in object storage of a media URL it made (signed or not), else None.

    Media on the machine's disk (the demo) are read by :func:`_media_file`; media in
    object storage (``CONCORD_STORAGE=s3``) are read from it, the only place besides the
    project's files that rendering reads from.
    """
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        return None
    prefix = storage.url("x").split("?", 1)[0][:-1]
    relative = _relative_to(url, prefix)
    if relative is None or not storage.exists(relative):
        return None
    return relative


def _media_file(relative: str) -> Path | None:
    candidate = Path(safe_join(settings.MEDIA_ROOT, relative))
    return candidate if candidate.is_file() else None


# PDF/A-2 allows only the XMP schemas it lists, and others described in the file by an
# extension schema: pdfuaid (the PDF/UA identification) is not among them.
_PDFUA_EXTENSION_SCHEMA = """<rdf:Description rdf:about=""
  xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
  xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
  xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
 <pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
  <pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
  <pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>
  <pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
  <pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
   <pdfaProperty:name>part</pdfaProperty:name>
   <pdfaProperty:valueType>Integer</pdfaProperty:valueType>
   <pdfaProperty:category>internal</pdfaProperty:category>
   <pdfaProperty:description>The part of ISO 14289 followed</pdfaProperty:description>
  </rdf:li></rdf:Seq></pdfaSchema:property>
 </rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:pdfuaid="{pdfuaid}" pdfuaid:part="1"/>
""".format(pdfuaid=XMP_NAMESPACES["pdfuaid"]).encode()

PDF_UA = "pdf/ua-1"
PDF_A_UA = "pdf/a-2a"
# What ``{% block archival %}`` of pdf/base.html holds in a document meant to be archived.
ARCHIVAL_MARK = '<meta name="concord-pdf" content="archival">'


def _claim_pdf_ua(pdf) -> None:
    """Declare PDF/UA-1 in the XMP metadata of a PDF/A-2a file.

    The metadata stream is left uncompressed, so tools that scan a file for its XMP
    packet (archives' ingest tools do) find it; it is a few hundred bytes.
    """
    stream = _object(pdf, pdf.catalog["Metadata"])
    xmp = b"".join(
        part if isinstance(part, bytes) else str(part).encode() for part in stream.stream
    )
    if b"pdfuaid:part" not in xmp:
        xmp = xmp.replace(b"</rdf:RDF>", _PDFUA_EXTENSION_SCHEMA + b"</rdf:RDF>", 1)
    stream.stream = [xmp]
    stream.compress = False


def _scope_header_cells(document) -> None:
    """Give every ``TH`` a ``/Scope`` (``Row`` for ``<th scope="row">``, else ``Column``).

    WeasyPrint ties each data cell to its header cells with ``/Headers`` and ``/ID``; a
    header cell no data cell points at (the corner "Person" above the row headers, say)
    is then tied to nothing, which PDF/UA forbids. With ``/Scope`` on every header cell the
    table reads right either way. WeasyPrint keeps each cell's structure element on its
    box (``box.mark``) while it writes the tags; this runs right after, as a finisher.
    """
    for page in document.pages:
        boxes = [page._page_box]
        while boxes:
            box = boxes.pop()
            if box.element_tag == "th" and getattr(box, "mark", None) is not None:
                attributes = box.mark["A"]
                attributes["Scope"] = "/Row" if box.element.get("scope") == "row" else "/Column"
            boxes.extend(getattr(box, "children", ()))


def _object(pdf, reference):
    """The pydyf object a reference (``b"12 0 R"``) names."""
    return pdf.objects[int(reference.split()[0])]


def _page_furniture_as_artifacts(pdf) -> None:
    """Mark the running header and the page numbers as artifacts, not content.

    WeasyPrint 70 draws page-margin boxes as marked content with an ``MCID`` whose
    structure elements it keeps out of the tree (it waits for PDF 2.0 to tag them as
    artifacts). Content that is neither in the tree nor an artifact is what PDF/UA
    forbids, and a reader would meet "Page 3 / 40" in the text. So: every MCID whose
    structure element the tree cannot reach becomes a pagination ``/Artifact``
    sequence, and its entry in the parent tree ``null``.
    """
    tree = _object(pdf, pdf.catalog["StructTreeRoot"])
    reachable, pending = set(), list(tree["K"])
    while pending:
        reference = pending.pop()
        if not isinstance(reference, bytes | str):
            continue  # an MCID
        number = int(reference.split()[0])
        if number in reachable:
            continue
        reachable.add(number)
        element = pdf.objects[number]
        if isinstance(element, dict) and element.get("Type") == "/StructElem":
            pending.extend(element.get("K", ()))
    nums = _object(pdf, tree["ParentTree"])["Nums"]
    page_numbers = pdf.pages["Kids"][::3]
    for key, elements in zip(nums[::2], nums[1::2], strict=True):
        if not isinstance(elements, list) or key >= len(page_numbers):
            continue  # an annotation's entry, not a page's
        stray = {
            mcid
            for mcid, reference in enumerate(elements)
            if int(reference.split()[0]) not in reachable
        }
        if not stray:
            continue
        for mcid in stray:
            elements[mcid] = "null"
        stream = _object(pdf, pdf.objects[page_numbers[key]]["Contents"])
        # "/Span <</MCID n>> BDC" becomes "/Artifact <</Type /Pagination>> BDC".
        operations, rewritten = stream.stream, []
        for operation in operations:
            if isinstance(operation, dict) and operation.get("MCID") in stray:
                rewritten[-1] = "/Artifact"
                operation = pydyf.Dictionary({"Type": "/Pagination"})
            rewritten.append(operation)
        stream.stream = rewritten


def _print_annotations(pdf) -> None:
    """Links print as they show (annotation flag 3, Print): PDF/A demands it, and screen
    and paper should not differ for anybody."""
    for pdf_object in pdf.objects:
        if isinstance(pdf_object, dict) and pdf_object.get("Type") == "/Annot":
            pdf_object["F"] = 4


def _finisher(*, archival: bool, tables: bool):
    def finish(document, pdf):
        _page_furniture_as_artifacts(pdf)
        if tables:
            _scope_header_cells(document)
        _print_annotations(pdf)
        if archival:
            _claim_pdf_ua(pdf)

    return finish


def render_pdf(
    template_name: str, context: dict | None = None, request=None, *, archival: bool = False
) -> bytes:
    """Render the Django template ``template_name`` with ``context`` to PDF bytes.

    The PDF is tagged PDF/UA-1; it is PDF/A-2a too when ``archival`` is true or the
    template marks itself as a document to archive (:data:`ARCHIVAL_MARK` in its head).

    Raises :class:`PDFResourceRefused` when the template refers to anything other than the
    project's static or media files, and :class:`PDFError` when a listed file is missing.
    """
    # The consortium's own name, as on its pages and mail (a template may still override).
    context = {"consortium_name": consortium_name(), **(context or {})}
    html = render_to_string(template_name, context, request=request)
    archival = archival or ARCHIVAL_MARK in html[: html.find("</head>")]
    fetcher = LocalOnlyFetcher()
    try:
        return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(
            font_config=FontConfiguration(),
            pdf_variant=PDF_A_UA if archival else PDF_UA,
            finisher=_finisher(archival=archival, tables="<th" in html),
        )
    except FatalURLFetchingError as exc:
        # WeasyPrint raises a BaseException here; hand callers (and Celery) an Exception.
        cause = exc.__cause__
        if isinstance(cause, PDFError):
            raise type(cause)(str(cause)) from exc
        raise PDFError(f"{template_name}: {exc} ({cause})") from exc
