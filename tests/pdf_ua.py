"""Hold a PDF to PDF/UA-1 (and PDF/A-2a for archival documents) with checkers that are
not WeasyPrint: outloud's PDF/UA-1 rules, and the catalog and XMP read back with pypdf.

docs/documents.md says why outloud. A missing checker fails the test, it never skips it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import outloud
from pypdf import PdfReader


def outloud_findings(path: Path) -> tuple[list, list]:
    """(errors, warnings) outloud reports for the PDF at ``path``; unreadable is an error."""
    result = outloud.check(str(path))
    assert result.error is None, f"outloud could not read {path.name}: {result.error}"
    errors = [f for f in result.findings if f.severity == "error"]
    warnings = [f for f in result.findings if f.severity == "warning"]
    return errors, warnings


def describe(findings) -> str:
    return "\n".join(
        f"  {f.rule} p.{f.page}: {f.message}" + (f" [{f.evidence}]" if f.evidence else "")
        for f in findings
    )


def assert_accessible_pdf(
    pdf: bytes, tmp_path: Path, name: str, *, title: str, lang: str = "en", archival=False
) -> PdfReader:
    """Fail unless ``pdf`` is a tagged PDF/UA-1 file titled ``title`` in ``lang`` on which
    outloud finds no error (with ``archival``: PDF/A-2a too). Returns the parsed file."""
    reader = PdfReader(io.BytesIO(pdf))
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog, "not tagged: no structure tree"
    assert catalog["/MarkInfo"]["/Marked"].value is True
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert str(catalog["/Lang"]).lower().startswith(lang)
    assert reader.metadata.title == title
    xmp = catalog["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfuaid:part="1"', xmp), "no PDF/UA-1 identification in the XMP"
    if archival:
        assert re.search(r'pdfaid:part="2"', xmp) and re.search(r'pdfaid:conformance="A"', xmp)
        assert "pdfaExtension:schemas" in xmp  # PDF/A-2 wants pdfuaid described
        assert "/Filter" not in catalog["/Metadata"].get_object()  # the XMP is plain to see
        (intent,) = catalog["/OutputIntents"]
        assert intent["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent
    else:
        assert "pdfaid:part" not in xmp

    # The page numbers (and the running header) are pagination artifacts, not content.
    first_page = reader.pages[0].get_contents().get_data()
    assert re.search(rb"/Artifact\s*<<\s*/Type\s*/Pagination\s*>>\s*BDC", first_page)

    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    errors, warnings = outloud_findings(path)
    if warnings:
        print(f"outloud warnings on {name}:\n{describe(warnings)}")
    assert not errors, f"outloud finds PDF/UA errors in {name}:\n{describe(errors)}"
    return reader
