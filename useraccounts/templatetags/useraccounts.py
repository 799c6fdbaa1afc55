"""``{% ua_input field %}``: a form field's ``<input>``, written directly.

Django renders each widget through its own template, which costs more than the rest of
a small page. For plain inputs this tag writes the same HTML as Django's ``input.html``
(same attributes, same escaping) and adds ``aria-invalid`` and ``aria-describedby`` for
the field's errors and help text. Any other widget is rendered by Django as usual.
"""

from __future__ import annotations

from django import template
from django.forms.boundfield import BoundField
from django.forms.widgets import CheckboxInput, FileInput, Input
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def ua_input(field: BoundField) -> SafeString:
    widget = field.field.widget
    if not isinstance(widget, Input | CheckboxInput) or isinstance(widget, FileInput):
        return field.as_widget()
    attrs = field.build_widget_attrs({})
    if field.auto_id and "id" not in widget.attrs:
        attrs["id"] = field.auto_id
    described_by = []
    if field.help_text:
        described_by.append(f"{field.auto_id}_helptext")
    if field.errors:
        attrs["aria-invalid"] = "true"
        described_by.append(f"{field.auto_id}_error")
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    context = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    value = context["value"]
    value_html = format_html(' value="{}"', str(value)) if value is not None else ""
    attrs_html = format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value),)
            for name, value in context["attrs"].items()
            if value is not False and value is not None
        ),
    )
    return format_html(
        '<input type="{}" name="{}"{}{}>', context["type"], context["name"], value_html, attrs_html
    )
