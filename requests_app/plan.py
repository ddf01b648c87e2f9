"""What a request asks of Azure, as values: each VM port chosen, and how it will be asked (source, window).
The request form builds them; rules, actions and approvals take them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.gateway import PortRule
from vms.inventory import VmRow


@dataclass(frozen=True)
class Choice:
    row: VmRow
    port: PortRule

    @property
    def field_name(self) -> str:
        return f"port-{self.row.vm_id.lower()}-{self.port.number}"

    @property
    def label(self) -> str:
        return f"{self.row.name} port {self.port.number}"


@dataclass(frozen=True)
class Planned:
    """One port as it will be asked of Azure: from which source, for how long."""

    choice: Choice
    source: str
    window: timedelta
