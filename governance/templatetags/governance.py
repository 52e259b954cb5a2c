"""Display helpers for ballots and counts."""

from fractions import Fraction

from django import template

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
