"""Which policies a change writes: a VM stays in the policy that holds it; a new one goes to `default`."""

from __future__ import annotations

from tests.unit.builders import SUB, policy, port, vm_id
from vms.actions import Group, plan
from vms.inventory import NOT_CONFIGURED, VmRow

GROUP = Group(SUB, "rg-web", "westeurope")


def _row(name: str) -> VmRow:
    return VmRow(vm_id(name), name, SUB, "Test", "rg-web", "westeurope", "Linux", "running", NOT_CONFIGURED)


def _written(steps) -> list[tuple[str, dict[str, tuple[int, ...]]]]:
    return [
        (
            existing.name if existing else "new default",
            {v.vm_id.rsplit("/", 1)[-1]: tuple(p.number for p in v.ports) for v in vms},
        )
        for existing, vms in steps
    ]


def test_a_new_vm_joins_the_existing_default_policy_beside_its_vms():
    current = [policy({"web-01": (port(22),)})]
    steps = plan(GROUP, current, [_row("web-02")], {vm_id("web-02").lower(): (port(3389),)})
    assert _written(steps) == [("default", {"web-01": (22,), "web-02": (3389,)})]


def test_with_no_policy_yet_a_default_one_is_made():
    steps = plan(GROUP, [], [_row("web-02")], {vm_id("web-02").lower(): (port(22),)})
    assert _written(steps) == [("new default", {"web-02": (22,)})]


def test_a_vm_in_another_policy_is_changed_there_and_default_is_left_alone():
    current = [policy({"web-01": (port(22),)}), policy({"web-03": (port(22),)}, name="legacy")]
    steps = plan(GROUP, current, [_row("web-03")], {vm_id("web-03").lower(): (port(22), port(5986))})
    assert _written(steps) == [("legacy", {"web-03": (22, 5986)})]


def test_removing_the_last_vm_leaves_a_policy_with_no_vms_to_delete():
    current = [policy({"web-01": (port(22),)})]
    steps = plan(GROUP, current, [_row("web-01")], {vm_id("web-01").lower(): None})
    assert _written(steps) == [("default", {})]
