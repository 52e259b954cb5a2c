"""The blocks a policy body is written in, and their plain text for diffs and search."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import normalize_newlines
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.contrib.table_block.blocks import TableBlock
from wagtail.documents.blocks import DocumentChooserBlock

CLAUSE_FEATURES = ["bold", "italic", "link", "ol", "ul", "document-link"]


class SectionBlock(blocks.StructBlock):
    """Starts a numbered section; the clauses after it are numbered 1.1, 1.2, ..."""

    heading = blocks.CharBlock(label=_("heading"), max_length=200)
    intro = blocks.RichTextBlock(label=_("introduction"), required=False, features=CLAUSE_FEATURES)

    class Meta:
        icon = "title"
        label = _("Section")


class CalloutBlock(blocks.StructBlock):
    kind = blocks.ChoiceBlock(
        label=_("kind"),
        choices=[("note", _("Note")), ("warning", _("Warning")), ("example", _("Example"))],
        default="note",
    )
    text = blocks.RichTextBlock(label=_("text"), features=CLAUSE_FEATURES)

    class Meta:
        icon = "warning"
        label = _("Callout")


class LinkedDocumentBlock(blocks.StructBlock):
    document = DocumentChooserBlock(label=_("document"))
    label = blocks.CharBlock(label=_("label"), required=False, max_length=200)

    class Meta:
        icon = "doc-full"
        label = _("Linked document")


class PolicyBodyBlock(blocks.StreamBlock):
    section = SectionBlock()
    clause = blocks.RichTextBlock(
        label=_("Numbered clause"), features=CLAUSE_FEATURES, icon="list-ol"
    )
    table = TableBlock(label=_("Table"))
    callout = CalloutBlock()
    document = LinkedDocumentBlock()


@dataclass
class NumberedBlock:
    """One block of a body with the number it prints under (``2`` or ``2.3``)."""

    block_type: str
    value: object
    number: str = ""
    id: str = ""
    bound: object = None

    @property
    def paragraph(self) -> SafeString | None:
        """A clause written as one paragraph, without its ``<p>``: the PDF prints it in one
        block with its number (a nested inline paragraph costs WeasyPrint a third of the
        layout time of a long manual)."""
        if self.block_type != "clause":
            return None
        match = _ONE_PARAGRAPH.match(str(self.value))
        return mark_safe(match.group(1)) if match else None  # noqa: S308 - rendered rich text


_ONE_PARAGRAPH = re.compile(r"^\s*<p(?:\s[^>]*)?>((?:(?!<p[\s>]|</p>).)*)</p>\s*$", re.S)


def numbered(body) -> list[NumberedBlock]:
    """The body's blocks with section and clause numbers, as they are printed."""
    section, clause = 0, 0
    result = []
    for child in body or ():
        number = ""
        if child.block_type == "section":
            section, clause = section + 1, 0
            number = str(section)
        elif child.block_type == "clause":
            clause += 1
            number = f"{section}.{clause}" if section else str(clause)
        result.append(NumberedBlock(child.block_type, child.value, number, child.id or "", child))
    return result


def _text(value) -> str:
    html = getattr(value, "source", None)
    if html is None:
        html = str(value or "")
    # Block-level tags end lines so a diff reads paragraph by paragraph.
    for tag in ("</p>", "</li>", "<br>", "<br/>", "</h2>", "</h3>", "</h4>"):
        html = html.replace(tag, tag + "\n")
    text = normalize_newlines(strip_tags(html))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def body_lines(body) -> list[str]:
    """The body as numbered lines of plain text (what diffs and the search index read)."""
    lines: list[str] = []
    for block in numbered(body):
        value = block.value
        if block.block_type == "section":
            lines.append(f"{block.number}. {value['heading']}")
            lines.extend(_text(value.get("intro")).splitlines())
        elif block.block_type == "clause":
            text = _text(value).splitlines() or [""]
            lines.append(f"{block.number} {text[0]}")
            lines.extend(text[1:])
        elif block.block_type == "table":
            for row in (value or {}).get("data") or []:
                lines.append(" | ".join(str(cell or "") for cell in row))
        elif block.block_type == "callout":
            label = dict(CalloutBlock.base_blocks["kind"].field.choices).get(value["kind"], "")
            text = _text(value["text"]).splitlines() or [""]
            lines.append(f"[{label}] {text[0]}")
            lines.extend(text[1:])
        elif block.block_type == "document":
            document = value.get("document")
            title = value.get("label") or (document.title if document else "")
            lines.append(f"[{_('Document')}] {title}")
    return lines
