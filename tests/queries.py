"""Query counts of a page, for the tests that show a list's cost does not grow with it."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


def get_counting_queries(client, path: str):
    """(number of queries, response) of a GET that must succeed."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(ctx.captured_queries), response
