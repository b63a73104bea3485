from django import template

from members.validation import FIELD_LABELS, REASON_LABELS

register = template.Library()


@register.filter
def reason_label(code: str) -> str:
    return REASON_LABELS.get(code, code)


@register.filter
def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)
