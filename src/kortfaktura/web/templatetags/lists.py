"""Sortable column headings and export links for the list pages (issue 21)."""

from typing import Any

from django import template
from django.utils.html import format_html

from kortfaktura.web.templatetags.kf import query
from kortfaktura.web.views.common import Sorting

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_heading(context: Any, sorting: Sorting | None, key: str, label: str, css: str = "") -> str:
    """A ``<th>`` whose heading is a link that sorts the list by ``key``, with ``aria-sort``
    on the column the list is sorted by. A plain heading where the list is not sortable."""
    classes = format_html(' class="{}"', css) if css else ""
    if sorting is None or key not in sorting.keys:
        return format_html('<th scope="col"{}>{}</th>', classes, label)
    aria = sorting.aria(key)
    next_value = sorting.link(key)
    url = query(context, sort=next_value, offset=None)
    hint = "sortera fallande" if next_value.startswith("-") else "sortera stigande"
    mark = {"ascending": "▲", "descending": "▼"}.get(aria, "")
    return format_html(
        '<th scope="col"{}{}><a class="sort" href="{}">{}<span class="visually-hidden"> ({})'
        '</span><span class="sort-mark" aria-hidden="true">{}</span></a></th>',
        classes,
        format_html(' aria-sort="{}"', aria) if aria else "",
        url,
        label,
        hint,
        mark,
    )


@register.inclusion_tag("web/_export.html", takes_context=True)
def export_links(context: Any, what: str) -> dict[str, Any]:
    """Links that download the list as it is filtered and sorted, every row, as Excel or CSV."""
    return {
        "what": what,
        "xlsx": query(context, format="xlsx", offset=None),
        "csv": query(context, format="csv", offset=None),
    }
