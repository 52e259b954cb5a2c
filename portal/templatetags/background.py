from django import template

from portal.background import problems_for

register = template.Library()


@register.inclusion_tag("portal/task_problems.html")
def task_problems(label, object_id):
    """What went wrong in the background for this thing, for its own page."""
    return {"problems": problems_for(label, object_id)}
