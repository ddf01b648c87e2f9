"""The three tabs' tables (django-tables2), with shared column types."""

from __future__ import annotations

from urllib.parse import quote

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .inventory import VmRow


def detail_url(row: VmRow) -> str:
    return reverse("vms-detail", args=[row.subscription_id, row.resource_group, row.name])


class NameColumn(tables.Column):
    def render(self, value, record: VmRow):
        return format_html('<a href="{}">{}</a>', detail_url(record), value)


class SelectColumn(tables.Column):
    """A checkbox per row; static/js/selection.js keeps the selection across pages."""

    def __init__(self, **kwargs) -> None:
        super().__init__(accessor="vm_id", verbose_name="Select", orderable=False, **kwargs)

    def render(self, value, record: VmRow):
        return format_html('<input type="checkbox" class="pick" name="vm" value="{}" aria-label="Select {}">',
                           value, record.name)


class ActionsColumn(tables.Column):
    """Row actions by portal role; the table is given the person's roles when it is made."""

    def __init__(self, **kwargs) -> None:
        super().__init__(accessor="vm_id", verbose_name="Actions", orderable=False, **kwargs)

    def render(self, value, record: VmRow, table):
        args = [record.subscription_id, record.resource_group, record.name]
        links = []
        if "JIT.Requester" in table.roles:
            links.append((f"{reverse('requests-new')}?vm={quote(record.vm_id)}", "Request access"))
        if "JIT.Admin" in table.roles:
            links += [(reverse("vms-edit", args=args), "Edit"), (reverse("vms-remove", args=args), "Remove JIT")]
        if table.roles & {"JIT.Admin", "JIT.Auditor"}:
            links.append((reverse("audit-vm", args=args), "Activity"))
        return format_html_join(" ", '<a href="{}" aria-label="{} {}">{}</a>',
                                ((url, label, record.name, label) for url, label in links))


class PowerColumn(tables.Column):
    def render(self, value):
        return format_html('<span class="power {}">{}</span>', value, value.capitalize())


class _Base(tables.Table):
    def __init__(self, *args, roles: frozenset[str] = frozenset(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.roles = roles

    name = NameColumn(verbose_name="VM", attrs={"td": {"class": "nowrap"}})
    subscription_name = tables.Column(verbose_name="Subscription")
    resource_group = tables.Column(verbose_name="Resource group")
    location = tables.Column(verbose_name="Region")

    class Meta:
        attrs = {"class": "fleet"}
        order_by = ("name",)
        per_page_field = "table_per_page"  # FleetFilterForm validates `per_page`; tables2 must not take it raw
        template_name = "django_tables2/table.html"


class ConfiguredTable(_Base):
    select = SelectColumn()
    os_type = tables.Column(verbose_name="OS")
    power_state = PowerColumn(verbose_name="Power state")
    ports_text = tables.Column(verbose_name="Protected ports")
    approved_7d = tables.Column(verbose_name="Approved requests (7 days)")
    last_access = tables.DateTimeColumn(verbose_name="Last access", format="Y-m-d H:i e", default="—")
    last_user = tables.Column(verbose_name="Last user", default="—")
    protection = tables.Column(verbose_name="Connection details")
    actions = ActionsColumn(attrs={"td": {"class": "row-actions"}})

    class Meta(_Base.Meta):
        sequence = ("select", "name", "...")


class NotConfiguredTable(_Base):
    select = SelectColumn()
    os_type = tables.Column(verbose_name="OS")
    power_state = PowerColumn(verbose_name="Power state")

    class Meta(_Base.Meta):
        sequence = ("select", "name", "...")


class UnsupportedTable(_Base):
    reason = tables.Column(verbose_name="Reason")
    fix = tables.Column(verbose_name="How to fix")
