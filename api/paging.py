"""One way to page a list: `page` from 1, `per_page` within bounds; a page past the end is the last one."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.paginator import Paginator


def page_of(items: Sequence, page: int, per_page: int) -> tuple[list, dict]:
    paginator = Paginator(items, per_page)
    shown = paginator.get_page(page)
    return list(shown.object_list), {"page": shown.number, "pages": paginator.num_pages, "count": paginator.count}
