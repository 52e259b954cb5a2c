"""Read-only shared policies for a member library's own website (/api/v1/policies/).

A token reads what every member's staff read on the portal: the current published version
of each live policy, and each policy's published version history. Drafts, proposed changes
and their comments never leave, and neither do local procedures: they are a library's
internal working notes (and another library's are none of its business). Who published a
version is not given either (the authority names a person).

The current version is the latest published one, as on the portal (a change adopted for a
later date is published, and so shown, on that date). Its text is the version's own
snapshot, so a draft saved on the live page since is never shown, and the ``url`` is the
citable page of exactly that version.
"""

from __future__ import annotations

import datetime
from html import escape

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, Max, OuterRef, Subquery
from django.http import Http404
from ninja import Path, Router, Schema
from ninja.pagination import paginate
from wagtail.documents import get_document_model

from portal.api.api import require_scope
from portal.api.pagination import BoundedPage, expand_rich_texts

from .blocks import CalloutBlock
from .models import PolicyPage, PolicyVersion, policy_code

SCOPE = "policies:read"
PLUGIN = "policies"

router = Router(tags=["policies"])


# A policy's citation code, with an example for the schema; an unknown one (whatever its
# shape) is a 404.
def _code():
    return Path(..., description="The policy's code, e.g. CIRC-004", example="CIRC-004")


class CategoryOut(Schema):
    slug: str
    name: str


class PolicyOut(Schema):
    code: str
    title: str
    category: CategoryOut | None
    summary: str
    version: int
    material: bool  # whether this version changed the policy's substance
    effective_date: datetime.date
    published_at: datetime.datetime
    next_review_date: datetime.date | None
    text: str  # plain text, numbered as printed
    body: str  # HTML, internal links expanded
    url: str  # the citable page of this version


class VersionOut(Schema):
    version: int
    title: str
    effective_date: datetime.date
    published_at: datetime.datetime
    change_summary: str
    material: bool
    url: str


# --- Reads ------------------------------------------------------------------------------


def current_versions():
    """The latest version of every live policy, in the order of the policy library."""
    latest = (
        PolicyVersion.objects.filter(policy=OuterRef("policy"))
        .values("policy")
        .annotate(n=Max("number"))
        .values("n")
    )
    return (
        PolicyVersion.objects.filter(policy__live=True, number=Subquery(latest))
        .select_related("policy__category")
        .only(
            "number",
            "code",
            "title",
            "body",
            "text",
            "material",
            "effective_date",
            "published_at",
            "policy__summary",
            "policy__next_review_date",
            "policy__category__slug",
            "policy__category__name",
        )
        # Uncategorised last on every database (SQLite puts nulls first).
        .order_by(
            F("policy__category__order").asc(nulls_last=True), "policy__category__name", "code"
        )
    )


def _live_policy(code: str) -> PolicyPage:
    # An unknown code is a 404 whatever it looks like (and a malformed one, say with a NUL
    # byte, never reaches PostgreSQL).
    try:
        policy_code(code)
    except ValidationError as error:
        raise Http404 from error
    # Live, and published through the plugin at least once (a version to show).
    published = PolicyVersion.objects.filter(policy=OuterRef("pk"))
    page = PolicyPage.objects.live().filter(Exists(published), code=code).only("pk").first()
    if page is None:
        raise Http404
    return page


# --- The body as HTML -------------------------------------------------------------------


def _rich(value) -> str:
    # Stored rich text is in Wagtail's database format; it is expanded later, in bulk.
    return value if isinstance(value, str) else ""


def _table(value) -> str:
    value = value or {}
    rows = value.get("data") or []
    head_row = bool(value.get("first_row_is_table_header"))
    head_col = bool(value.get("first_col_is_header"))
    html = ["<table>"]
    caption = value.get("table_caption")
    if caption:
        html.append(f"<caption>{escape(str(caption))}</caption>")
    for r, row in enumerate(rows):
        cells = []
        for c, cell in enumerate(row or []):
            tag = "th" if (head_row and r == 0) or (head_col and c == 0) else "td"
            cells.append(f"<{tag}>{escape(str(cell or ''))}</{tag}>")
        html.append(f"<tr>{''.join(cells)}</tr>")
    html.append("</table>")
    return "".join(html)


def _document_ids(body) -> set[int]:
    ids = set()
    for block in body or []:
        if block.get("type") == "document":
            document = (block.get("value") or {}).get("document")
            if isinstance(document, int):
                ids.add(document)
    return ids


def body_html(body, documents: dict[int, str]) -> str:
    """A snapshotted body (raw stream data) as HTML in database format, numbered as printed.

    ``documents`` maps the ids of the documents it links to their titles.
    """
    callout_labels = dict(CalloutBlock.base_blocks["kind"].field.choices)
    section, clause = 0, 0
    html = []
    for block in body or []:
        kind, value = block.get("type"), block.get("value")
        if kind == "section":
            section, clause = section + 1, 0
            value = value or {}
            heading = escape(str(value.get("heading") or ""))
            html.append(f'<h2 id="section-{section}">{section}. {heading}</h2>')
            html.append(_rich(value.get("intro")))
        elif kind == "clause":
            clause += 1
            number = f"{section}.{clause}" if section else str(clause)
            html.append(
                f'<div class="clause" id="clause-{number}">'
                f'<span class="clause-number">{number}</span>{_rich(value)}</div>'
            )
        elif kind == "table":
            html.append(_table(value))
        elif kind == "callout":
            value = value or {}
            label = escape(str(callout_labels.get(value.get("kind"), "")))
            css = escape(str(value.get("kind") or "note"))
            html.append(
                f'<aside class="callout callout-{css}"><strong>{label}</strong>'
                f"{_rich(value.get('text'))}</aside>"
            )
        elif kind == "document":
            value = value or {}
            document = value.get("document")
            if document in documents:
                label = escape(str(value.get("label") or documents[document]))
                html.append(
                    f'<p class="document"><a linktype="document" id="{document}">{label}</a></p>'
                )
    return "".join(html)


def bodies(versions) -> list[str]:
    """The HTML bodies of ``versions``, in a fixed number of queries however many."""
    ids = set().union(*(_document_ids(v.body) for v in versions)) if versions else set()
    documents = (
        dict(get_document_model().objects.filter(pk__in=ids).values_list("pk", "title"))
        if ids
        else {}
    )
    return expand_rich_texts([body_html(v.body, documents) for v in versions])


def _policy_out(request, version: PolicyVersion, body: str) -> PolicyOut:
    page = version.policy
    category = page.category
    return PolicyOut(
        code=version.code,
        title=version.title,
        category=CategoryOut(slug=category.slug, name=category.name) if category else None,
        summary=page.summary,
        version=version.number,
        material=version.material,
        effective_date=version.effective_date,
        published_at=version.published_at,
        next_review_date=page.next_review_date,
        text=version.text,
        body=body,
        url=request.build_absolute_uri(version.get_absolute_url()),
    )


class _PolicyPage(BoundedPage):
    def page_items(self, request, items):
        return [_policy_out(request, v, body) for v, body in zip(items, bodies(items), strict=True)]


class _VersionPage(BoundedPage):
    def page_items(self, request, items):
        return [
            VersionOut(
                version=v.number,
                title=v.title,
                effective_date=v.effective_date,
                published_at=v.published_at,
                change_summary=v.change_summary,
                material=v.material,
                url=request.build_absolute_uri(v.get_absolute_url()),
            )
            for v in items
        ]


# --- Endpoints --------------------------------------------------------------------------


@router.get(
    "/",
    response=list[PolicyOut],
    summary="The shared policies in force: the current version of each",
)
@paginate(_PolicyPage)
def policies(request, category: str | None = None):
    require_scope(request, SCOPE, plugin=PLUGIN)
    found = current_versions()
    if category is not None:
        found = found.filter(policy__category__slug=category.replace("\x00", ""))
    return found


@router.get("/{code}", response=PolicyOut, summary="One policy's current version")
def policy(request, code: str = _code()):
    require_scope(request, SCOPE, plugin=PLUGIN)
    page = _live_policy(code)
    version = current_versions().filter(policy=page).first()
    if version is None:
        raise Http404
    [body] = bodies([version])
    return _policy_out(request, version, body)


@router.get(
    "/{code}/versions",
    response=list[VersionOut],
    summary="A policy's published versions, newest first",
)
@paginate(_VersionPage)
def versions(request, code: str = _code()):
    require_scope(request, SCOPE, plugin=PLUGIN)
    page = _live_policy(code)
    return (
        PolicyVersion.objects.filter(policy=page)
        .only(
            "number",
            "code",
            "title",
            "effective_date",
            "published_at",
            "change_summary",
            "material",
        )
        .order_by("-number")
    )
