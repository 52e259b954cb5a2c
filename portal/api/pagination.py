"""The one way the integration API pages a list, and rich text expanded a page at a time."""

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination
from wagtail.rich_text import expand_db_html

# Between bodies expanded in one call; a comment, so it cannot clash with rich text's tags.
_SEPARATOR = "<!--concord:api-item-->"


class BoundedPage(LimitOffsetPagination):
    """Pages of at most 100, and an offset PostgreSQL accepts: a larger number is refused
    with 422 instead of reaching the database (ninja bounds neither by default)."""

    class Input(Schema):
        limit: int = Field(20, ge=1, le=100)
        offset: int = Field(0, ge=0, le=2**31 - 1)

    def __init__(self, **kwargs):
        super().__init__(max_limit=100, **kwargs)

    def paginate_queryset(self, queryset, pagination, request, **params):
        result = super().paginate_queryset(queryset, pagination, request, **params)
        result["items"] = self.page_items(request, list(result["items"]))
        return result

    def page_items(self, request, items: list) -> list:
        """The page's objects as the response lists them; a subclass shapes them here, with
        whatever it fetches for the whole page at once."""
        return items


def expand_rich_texts(htmls: list[str]) -> list[str]:
    """Wagtail's stored rich text made public, for a whole page of items in one call:
    Wagtail fetches the linked pages and documents in bulk per call, so the queries do not
    grow with the page size."""
    expanded = expand_db_html(_SEPARATOR.join(htmls)).split(_SEPARATOR)
    if len(expanded) != len(htmls):  # a body that holds the separator itself
        expanded = [expand_db_html(html) for html in htmls]
    return expanded
