"""`person`: a staff account as people know it (its real name; the user name only where no name
was given). A builtin template filter (settings.TEMPLATES), so every page names users one way."""

from django import template

register = template.Library()


@register.filter
def person(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()
