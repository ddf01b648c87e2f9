"""The three tabs' tables (django-tables2), with shared column types.

django-tables2 defines the columns, their headers and orderings, and pages the rows; the rows themselves are
written here (`Lean.body`), each once per inventory and person: its own per-cell rendering (a template and an
`inspect.signature` per cell) cost ~20 ms of a warm page's 25 rows, which tripled beside busy processes.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from accounts.roles import ADMIN, AUDITOR, REQUESTER
from core.templatetags.portal import when

from .actions import TOO_LONG, name_too_long
from .inventory import CONFIGURED, NOT_CONFIGURED, UNSUPPORTED, Inventory, VmRow
from .rights import CONFIGURE, REQUEST, why_not


def detail_url(row: VmRow) -> str:
    return reverse("vms-detail", args=[row.subscription_id, row.resource_group, row.name])


class NameColumn(tables.Column):
    def render(self, value, record: VmRow, table=None):
        return format_html('<a href="{}">{}</a>', detail_url(record), value)


class SelectColumn(tables.Column):
    """A checkbox per row where Azure lets the person do the tab's bulk action; static/js/selection.js keeps the
    selection across pages. Other rows say why they cannot be picked."""

    def __init__(self, **kwargs) -> None:
        super().__init__(accessor="vm_id", verbose_name="Select", orderable=False, **kwargs)

    def render(self, value, record: VmRow, table):
        why = table.why_not(record, CONFIGURE if record.tab == NOT_CONFIGURED else REQUEST)
        if not why and record.tab == NOT_CONFIGURED and name_too_long(record):
            why = f"{record.name}: {TOO_LONG}"
        if why:
            return format_html('<span class="unavailable" title="{}">—<span class="sr-only">{}</span></span>', why, why)
        return format_html('<input type="checkbox" class="pick" name="vm" value="{}" aria-label="Select {}">',
                           value, record.name)


class ActionsColumn(tables.Column):
    """Row actions by portal role and by what Azure lets the person do; the table is given both when it is made.
    An action Azure would refuse is left out: the page says why once, above the table, for all the rows."""

    def __init__(self, **kwargs) -> None:
        super().__init__(accessor="vm_id", verbose_name="Actions", orderable=False, **kwargs)

    def render(self, value, record: VmRow, table):
        args = [record.subscription_id, record.resource_group, record.name]
        links = []
        if REQUESTER in table.roles and not table.why_not(record, REQUEST):
            links.append((f"{reverse('requests-new')}?vm={quote(record.vm_id)}", "Request access"))
        if ADMIN in table.roles and not table.why_not(record, CONFIGURE):
            links += [(reverse("vms-edit", args=args), "Edit"), (reverse("vms-remove", args=args), "Remove JIT")]
        if table.roles & {ADMIN, AUDITOR}:
            links.append((reverse("audit-vm", args=args), "Activity"))
        return format_html_join(" ", '<a href="{}" aria-label="{} {}">{}</a>',
                                ((url, label, record.name, label) for url, label in links))


class PowerColumn(tables.Column):
    def render(self, value, record: VmRow | None = None, table=None):
        return format_html('<span class="power {}">{}</span>', value, value.capitalize())


class HealthColumn(tables.Column):
    """Whether JIT really protects the VM: its worst port's state, with the rule in the tooltip (and for screen
    readers); sorted worst first."""

    def __init__(self, **kwargs) -> None:
        super().__init__(accessor="health_state", verbose_name="JIT health", order_by=("health_rank",), **kwargs)

    def render(self, value, record: VmRow, table=None):
        return health_badge(record)


def health_badge(row: VmRow) -> SafeString:
    health = row.health
    if health is None:
        return format_html("{}", "—")
    severity = f" ({health.severity})" if health.severity else ""
    return format_html('<span class="health {}" title="{}">{}{}</span><span class="sr-only">: {}</span>',
                       health.state, health.summary, health.label, severity, health.summary)


class WhenColumn(tables.Column):
    def render(self, value, record: VmRow | None = None, table=None):
        return when(value)


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

    def __init__(self, *args, roles: frozenset[str] = frozenset(), inventory: Inventory | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.roles = roles
        self.inventory = inventory
        request = kwargs.get("request")
        self.empty_text = empty_text(request.GET if request else {}, self.tab)

    def head(self) -> SafeString:
        """The header row as django-tables2's own template writes it: classes for the ordering, sort links."""
        query = dict(self.request.GET) if getattr(self, "request", None) else {}
        cells = []
        for column in self.columns:
            label = conditional_escape(column.header)
            if column.orderable:
                link = escape("?" + urlencode({**query, self.prefixed_order_by_field: column.order_by_alias.next},
                                              doseq=True))
                label = f'<a href="{link}">{label}</a>'
            cells.append(f"<th {column.attrs['th'].as_html()}>{label}</th>")
        return mark_safe(f"<tr>{''.join(cells)}</tr>")  # noqa: S308 - every part escaped above

    def body(self) -> SafeString:
        """This page's rows: each written once per inventory, person's roles and set of columns, then kept."""
        columns = [(column.name, column.accessor, column.column, column.default,
                    column.attrs["td"].as_html()) for column in self.columns]
        rows = self.page.object_list.data if getattr(self, "page", None) else self.data  # the page's VmRows
        key = (type(self).__name__, tuple(name for name, *_ in columns), self.roles)
        made = [self._row(row, columns) if self.inventory is None else
                self.inventory.html((*key, row.vm_id), lambda row=row: self._row(row, columns)) for row in rows]
        if not made:
            return format_html('<tr><td colspan="{}">{}</td></tr>', len(columns), self.empty_text)
        return mark_safe("".join(  # noqa: S308 - each row's cells are escaped in _row
            f'<tr class="{"odd" if i % 2 else "even"}">{html}</tr>' for i, html in enumerate(made)))

    def _row(self, row: VmRow, columns) -> str:
        """One row's cells as django-tables2 writes them: the column's default for an empty value, else its
        `render` (which here takes value, record and table) or the value, escaped. Accessors are attribute names."""
        cells = []
        for _, accessor, column, default, attrs in columns:
            value = getattr(row, accessor)
            if value in column.empty_values:
                html = conditional_escape(default)
            elif type(column) is tables.Column:
                html = conditional_escape(value)
            else:
                html = conditional_escape(column.render(value=value, record=row, table=self))
            cells.append(f"<td {attrs}>{html}</td>")
        return "".join(cells)

    def why_not(self, row: VmRow, needed: tuple[str, ...]) -> str:
        return why_not(self.inventory, row, needed) if self.inventory else ""

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
    last_access = WhenColumn(verbose_name="Last access", default="—")
    last_user = tables.Column(verbose_name="Last user", default="—")
    protection = tables.Column(verbose_name="Connection details")
    health = HealthColumn()
    actions = ActionsColumn(attrs={"td": {"class": "row-actions"}})

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
