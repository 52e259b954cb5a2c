"""The one way the integration API pages a list."""

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination


class BoundedPage(LimitOffsetPagination):
    """Pages of at most 100, and an offset PostgreSQL accepts: a larger number is refused
    with 422 instead of reaching the database (ninja bounds neither by default)."""

    class Input(Schema):
        limit: int = Field(20, ge=1, le=100)
        offset: int = Field(0, ge=0, le=2**31 - 1)

    def __init__(self, **kwargs):
        super().__init__(max_limit=100, **kwargs)
