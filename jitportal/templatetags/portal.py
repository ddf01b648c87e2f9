from django import template

from jitportal.durations import human

register = template.Library()


@register.filter
def duration(value):
    """{{ port.max_duration|duration }} → "3 h"."""
    return human(value) if value is not None else ""
