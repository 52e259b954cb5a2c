"""``{{ membership.role|role_name }}``: the office's name for a role, in templates."""

from django import template

from portal.members import roles

register = template.Library()


@register.filter
def role_name(code: str) -> str:
    return roles.role_name(code)
