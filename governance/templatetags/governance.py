"""Display helpers for ballots and counts."""

import base64
from fractions import Fraction

from django import template
from django.template.loader import render_to_string

register = template.Library()


@register.filter
def choice_label(choice, labels):
    """A stored choice in words: one label, approvals joined, rankings numbered."""
    if choice is None:
        return ""
    labels = labels or {}
    if isinstance(choice, list):
        return ", ".join(labels.get(c, c) for c in choice) if choice else labels.get("abstain", "")
    return labels.get(choice, choice)


@register.filter
def ranking(choice, labels):
    labels = labels or {}
    return " > ".join(labels.get(c, c) for c in choice or [])


@register.filter
def weight(value):
    """An exact weight ("7/2", Decimal, Fraction) shown with at most three decimals."""
    if value in (None, ""):
        return ""
    number = Fraction(str(value))
    if number.denominator == 1:
        return str(number.numerator)
    return f"{float(number):.3f}".rstrip("0").rstrip(".")


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)


@register.simple_tag
def chart_data_url(proposal, bars):
    """The results chart, the same SVG as on the results page, as a ``data:`` URL for PDFs.

    Inline, WeasyPrint reads the SVG with its HTML parser and runs the page's CSS cascade
    over every element of it; as an image its SVG reader parses it once, and it draws the
    same (the 30 charts of a meeting's minutes: ~0.1 s of the render).
    """
    svg = render_to_string("governance/chart.svg", {"proposal": proposal, "bars": bars})
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
