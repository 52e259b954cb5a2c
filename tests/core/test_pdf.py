import io
import socket
import urllib.request
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from portal.pdf import LocalOnlyFetcher, PDFError, PDFResourceRefused, render_pdf

TEMPLATES_DIR = Path(__file__).parent / "templates"


@pytest.fixture(autouse=True)
def test_templates(settings):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEMPLATES_DIR]}
    ]
    settings.WAGTAIL_SITE_NAME = "Ohio Valley Library Consortium"


@pytest.fixture
def no_network(monkeypatch):
    """Record (and block) every attempt to open a connection or a URL."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access during PDF rendering: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)
    return attempts


def fonts_of(reader: PdfReader) -> dict[str, str]:
    """``{PDF font name: full name inside the embedded font program}``."""
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            program = descriptor.get_object()["/FontFile2"].get_object().get_data()
            full_name = TTFont(io.BytesIO(program))["name"].getDebugName(4)
            fonts[str(font["/BaseFont"])] = full_name
    return fonts


@pytest.mark.django_db  # the PDF's header carries the consortium's name
def test_renders_text_with_the_shipped_font(no_network, monkeypatch):
    fetched = []
    original = LocalOnlyFetcher.local_path

    def spy(url):
        fetched.append(url)
        return original(url)

    monkeypatch.setattr(LocalOnlyFetcher, "local_path", staticmethod(spy))

    pdf = render_pdf("pdf_test/sample.html", {"title": "Minutes of the Board", "quorum": "yes"})

    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert "Minutes of the Board" in text
    assert "Quorum reached: yes" in text
    assert "Łódź, Zürich" in text
    # The shared layout: consortium name in the header, page numbers in the footer.
    assert "Ohio Valley Library Consortium" in text
    assert "Page 1 / 1" in text
    # WeasyPrint names embedded fonts after the @font-face family; the programs are DejaVu.
    fonts = fonts_of(reader)
    assert set(fonts.values()) == {"DejaVu Sans", "DejaVu Sans Bold"}, fonts
    assert all("Concord-Sans" in name for name in fonts), fonts
    # The fonts came from the repository through the fetcher, not from the system.
    assert any(url.endswith("/static/fonts/DejaVuSans.ttf") for url in fetched), fetched
    assert any(url.endswith("/static/fonts/DejaVuSans-Bold.ttf") for url in fetched), fetched
    assert no_network == []


@pytest.mark.django_db  # the PDF's header carries the consortium's name
def test_a_remote_url_is_refused_and_not_fetched(no_network):
    with pytest.raises(PDFResourceRefused, match="refused 'https://example.com/logo.png'"):
        render_pdf(
            "pdf_test/sample.html",
            {"title": "x", "quorum": "no", "remote_image": "https://example.com/logo.png"},
        )
    assert no_network == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "https://pdf.concord.invalid/etc/passwd",
        "https://pdf.concord.invalid/static/../../../etc/passwd",
        "https://pdf.concord.invalid/media/%2e%2e/%2e%2e/etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_only_project_files_are_served(url):
    with pytest.raises(PDFError):
        LocalOnlyFetcher().fetch(url)


def test_a_static_file_is_served():
    response = LocalOnlyFetcher().fetch("https://pdf.concord.invalid/static/fonts/DejaVuSans.ttf")
    assert response.read(4) == b"\x00\x01\x00\x00"
