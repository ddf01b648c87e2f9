"""The three tabs' tables (django-tables2), with shared column types.

django-tables2 defines the columns, their headers and orderings, and pages the rows; templates write the HTML:
`templates/vms/_fleet_table.html` is django-tables2's own table.html with the body replaced, and each row's cells
come from `templates/vms/_fleet_row.html`, written once per inventory, person's roles and set of columns and then
kept, so a warm page joins its 25 kept rows. django-tables2's own per-cell rendering cost 26 ms of CPU per 25-row
page against 1.5 ms for kept rows (docs/architecture.md, "Rows written once").
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import django_tables2 as tables
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import format_html
from django_tables2.data import TableData
from django_tables2.utils import OrderBy

from accounts.roles import ADMIN, AUDITOR, REQUESTER

from .actions import TOO_LONG, name_too_long
from .inventory import CONFIGURED, NOT_CONFIGURED, UNSUPPORTED, Inventory, Selection, VmRow
from .rights import CONFIGURE, REQUEST, why_not


class TabRows(TableData):
    """A tab's rows for django-tables2 (which takes any TableData as a table's data), ordered from the selection's
    kept orderings: a warm page sorts nothing and writes only its own rows."""

    def __init__(self, selection: Selection, tab: str) -> None:
        super().__init__(selection.tabs[tab])
        self.selection, self.tab, self.steps = selection, tab, ()

    def __len__(self) -> int:
        return len(self.data)

    def order_by(self, aliases) -> None:
        # As django-tables2 orders a list: a column's ordering, or its opposite when the alias says the other way.
        step = []
        for alias in aliases:
            column = self.table.columns[OrderBy(alias).bare]
            order = column.order_by if alias[0] == column.order_by_alias[0] else column.order_by.opposite
            step += [(o.bare, o.is_descending) for o in order]
        self.steps += (tuple(step),)
        self.data = self.selection.ordered(self.tab, self.steps)


class NameColumn(tables.Column):
    """The VM's name, linking to its page."""

    cell = "name"  # how templates/vms/_fleet_row.html writes the cell; a plain Column's value is written as it is


class SelectColumn(tables.Column):
    """A checkbox per row where Azure lets the person do the tab's bulk action; static/js/selection.js keeps the
    selection across pages. Other rows say why they cannot be picked."""

    cell = "select"

    def __init__(self, **kwargs) -> None:
        super().__init__(accessor="vm_id", verbose_name="Select", orderable=False, **kwargs)


class ActionsColumn(tables.Column):
    """Row actions by portal role and by what Azure lets the person do. An action Azure would refuse is left out:
    the page says why once, above the table, for all the rows."""

    cell = "actions"

    def __init__(self, **kwargs) -> None:
        super().__init__(
            accessor="vm_id", verbose_name="Actions", orderable=False, attrs={"td": {"class": "row-actions"}}, **kwargs
        )


class PowerColumn(tables.Column):
    cell = "power"


class HealthColumn(tables.Column):
    """Whether JIT really protects the VM: its worst port's state, with the rule in the tooltip (and for screen
    readers); sorted worst first."""

    cell = "health"

    def __init__(self, **kwargs) -> None:
        super().__init__(accessor="health_state", verbose_name="JIT health", order_by=("health_rank",), **kwargs)


class WhenColumn(tables.Column):
    """A moment, in UTC, that static/js/local-time.js shows in the reader's time zone."""

    cell = "when"


def empty_text(query, tab: str) -> str:
    """Say that nothing matched, and how to see the tab's VMs again."""
    search = query.get("q", "").strip()
    clear = f"{reverse('vms-index')}?tab={tab}"
    if search:
        return format_html('No VMs match “{}”. <a href="{}">Clear the search.</a>', search, clear)
    if any(v for k, v in query.items() if k not in ("tab", "page", "sort", "per_page")):
        return format_html('No VMs match these filters. <a href="{}">Clear the filters.</a>', clear)
    return "No VMs on this tab."


class _Base(tables.Table):
    tab = ""

    def __init__(self, data: TabRows, *, inventory: Inventory, roles: frozenset[str] = frozenset(), **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.roles = roles
        self.inventory = inventory
        request = kwargs.get("request")
        self.empty_text = empty_text(request.GET if request else {}, self.tab)

    def header(self) -> list[tuple[str, str, str]]:
        """(th attributes, label, sort link or "") per column: what django-tables2's table.html puts in its header,
        made here since its template's tags cost a warm page ~1 ms of CPU (more than its 25 kept rows)."""
        query = dict(self.request.GET) if getattr(self, "request", None) else {}
        return [
            (
                column.attrs["th"].as_html(),
                column.header,
                "?" + urlencode({**query, self.prefixed_order_by_field: column.order_by_alias.next}, doseq=True)
                if column.orderable
                else "",
            )
            for column in self.columns
        ]

    def page_rows(self) -> list[str]:
        """This page's rows, each written once per inventory, person's roles and set of columns, then kept."""
        columns = [
            (column.accessor, getattr(column.column, "cell", ""), column.attrs["td"].as_html(), column.default)
            for column in self.columns
        ]
        key = (type(self).__name__, tuple(column.name for column in self.columns), self.roles)
        template = get_template("vms/_fleet_row.html")
        return [
            self.inventory.html((*key, row.record.vm_id), lambda vm=row.record: self._row(template, vm, columns))
            for row in self.paginated_rows
        ]

    def _row(self, template, row: VmRow, columns: list[tuple[str, str, str, str]]) -> str:
        cells = []
        for accessor, cell, attrs, default in columns:
            value = getattr(row, accessor)
            # An empty value is the column's default, as django-tables2 writes it ("—").
            cells.append((attrs, "", default) if value in (None, "") else (attrs, cell, value))
        kinds = {cell for _, cell, _ in cells}
        return template.render(
            {
                "row": row,
                "cells": cells,
                "detail_url": reverse("vms-detail", args=[row.subscription_id, row.resource_group, row.name]),
                "unpickable": self._unpickable(row) if "select" in kinds else "",
                "actions": self._actions(row) if "actions" in kinds else (),
            }
        )

    def _unpickable(self, row: VmRow) -> str:
        """Why the tab's bulk action cannot take this row, or "" when it can."""
        why = why_not(self.inventory, row, CONFIGURE if row.tab == NOT_CONFIGURED else REQUEST)
        if not why and row.tab == NOT_CONFIGURED and name_too_long(row):
            why = f"{row.name}: {TOO_LONG}"
        return why

    def _actions(self, row: VmRow) -> list[tuple[str, str]]:
        """(url, label) of each action the person's roles and Azure's rights allow on this row."""
        args = [row.subscription_id, row.resource_group, row.name]
        links = []
        if REQUESTER in self.roles and not why_not(self.inventory, row, REQUEST):
            links.append((f"{reverse('requests-new')}?vm={quote(row.vm_id)}", "Request access"))
        if ADMIN in self.roles and not why_not(self.inventory, row, CONFIGURE):
            links += [(reverse("vms-edit", args=args), "Edit"), (reverse("vms-remove", args=args), "Remove JIT")]
        if self.roles & {ADMIN, AUDITOR}:
            links.append((reverse("audit-vm", args=args), "Activity"))
        return links

    name = NameColumn(verbose_name="VM", attrs={"td": {"class": "nowrap"}})
    subscription_name = tables.Column(verbose_name="Subscription")
    resource_group = tables.Column(verbose_name="Resource group")
    location = tables.Column(verbose_name="Region")

    class Meta:
        attrs = {"class": "fleet"}
        order_by = ("name",)
        per_page_field = "table_per_page"  # FleetFilterForm validates `per_page`; tables2 must not take it raw
        template_name = "vms/_fleet_table.html"


class ConfiguredTable(_Base):
    tab = CONFIGURED
    select = SelectColumn()
    os_type = tables.Column(verbose_name="OS")
    power_state = PowerColumn(verbose_name="Power state")
    ports_text = tables.Column(verbose_name="Protected ports")
    approved_7d = tables.Column(verbose_name="Approved requests (7 days)")
    last_access = WhenColumn(verbose_name="Last access")
    last_user = tables.Column(verbose_name="Last user")
    protection = tables.Column(verbose_name="Connection details")
    health = HealthColumn()
    actions = ActionsColumn()

    class Meta(_Base.Meta):
        sequence = ("select", "name", "health", "...")


class NotConfiguredTable(_Base):
    tab = NOT_CONFIGURED
    select = SelectColumn()
    os_type = tables.Column(verbose_name="OS")
    power_state = PowerColumn(verbose_name="Power state")
    health = HealthColumn()

    class Meta(_Base.Meta):
        sequence = ("select", "name", "health", "...")


class UnsupportedTable(_Base):
    tab = UNSUPPORTED
    reason = tables.Column(verbose_name="Reason")
    fix = tables.Column(verbose_name="How to fix")

    class Meta(_Base.Meta):  # django-tables2 does not inherit Meta: without it, no order, class or page field
        pass
