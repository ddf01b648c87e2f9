"""Whether Azure lets people skip an approval rule, and whether anyone can decide under it.

A rule is the portal's: Azure knows nothing of it. Whoever holds
`Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action` anywhere in a rule's scope (a role
assignment at, above or below it) can open those ports with PowerShell, the CLI or the Azure portal, with no
approval. So a rule is **enforced** only when every such principal is one the rule means to trust:

- an approver it names (or, naming none, a holder of JIT.Approver): approving opens ports with their own
  token, so they must hold the right;
- a JIT.Admin who may also write JIT policies there: whoever may rewrite the policy is not bound by a rule
  about requesting under it.

Everyone else — a requester, a group (the portal cannot see its members), a service principal, an object id
the portal has never seen sign in — can skip it. The reads are the viewer's own (Reader suffices), two calls
per subscription, kept `INVENTORY_CACHE_SECONDS` per person and subscription.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.models import User
from accounts.roles import ADMIN, APPROVER
from core import gateway
from vms.rights import JIT

from .models import ApprovalRule

INITIATE = f"{JIT}/initiate/action"
WRITE = f"{JIT}/write"
DECIDES, ADMINISTERS, SKIPS = "decides", "administers", "can skip"


@dataclass(frozen=True)
class Who:
    """A principal that can open ports somewhere in a rule's scope, and what that means for the rule."""

    principal_id: str
    principal_type: str
    name: str  # "Alice Archer (alice@contoso.test)" for a person the portal knows, else ""
    standing: str  # DECIDES, ADMINISTERS or SKIPS
    through: tuple[str, ...]  # "JIT VM Access Requester on Contoso Production", one per granting assignment

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        kind = {"Group": "group", "ServicePrincipal": "service principal"}.get(self.principal_type, "object id")
        return f"{kind} {self.principal_id}"


@dataclass(frozen=True)
class RuleCheck:
    rule: ApprovalRule
    who: tuple[Who, ...]
    unread: tuple[str, ...]  # why a subscription it covers could not be read (Azure's words)
    deciders: tuple[str, ...]  # the people who could decide anywhere it covers

    @property
    def skippers(self) -> tuple[Who, ...]:
        return tuple(w for w in self.who if w.standing == SKIPS)

    @property
    def skipper_ids(self) -> set[str]:
        return {w.principal_id for w in self.skippers}

    @property
    def enforced(self) -> bool:
        return not self.unread and not self.skippers

    @property
    def words(self) -> str:
        if self.unread:
            return "Not checked: " + " ".join(self.unread)
        if self.skippers:
            count = len(self.skippers)
            return (
                f"Not enforced: Azure lets {count} principal{'s' if count > 1 else ''} open these ports without "
                f"approval: {', '.join(w.label for w in self.skippers)}."
            )
        return "Enforced: only its approvers and JIT administrators can open these ports in Azure."

    def words_for(self, me: str) -> str:
        """`words` as the person `me` (an object id) reads them: when Azure lets them skip the rule, one sentence that
        tells them so and names who else may (the request form said it twice: to them, then naming them)."""
        me = me.lower()
        if self.unread or me not in {i.lower() for i in self.skipper_ids}:
            return self.words
        others = [w.label for w in self.skippers if w.principal_id.lower() != me]
        return (
            f"Not enforced: Azure lets you{' and ' + ', '.join(others) if others else ''} open these ports "
            "directly, without approval: this approval is the portal's, not Azure's, and a direct opening is in "
            "Azure's Activity Log for auditors."
        )


def catalog(session, user_pk: int, subscription_id: str) -> gateway.RoleCatalog | str:
    """One subscription's role assignments and definitions as this person may read them, or why not."""
    key = f"roles:{user_pk}:{subscription_id.lower()}"
    found = cache.get(key)
    if found is None:
        read = gateway.try_role_catalog(gateway.UserCredential(session), subscription_id)
        found = read.message if isinstance(read, gateway.GatewayError) else read
        cache.set(key, found, settings.INVENTORY_CACHE_SECONDS)
    return found


def catalogs(session, user_pk: int, subscription_ids: Iterable[str]) -> dict[str, gateway.RoleCatalog | str]:
    """`catalog` for each subscription, read side by side."""
    ids = sorted({s.lower() for s in subscription_ids})
    return dict(zip(ids, gateway.parallel(lambda s: catalog(session, user_pk, s), ids), strict=True))


def _scopes(rule: ApprovalRule, all_subscriptions: Iterable[str]) -> list[tuple[str, str]]:
    """The (subscription, resource group) scopes a rule covers; "" for the whole subscription."""
    if rule.subscription_id:
        return [(rule.subscription_id.lower(), rule.resource_group)]
    return [(s.lower(), "") for s in sorted(set(all_subscriptions))]


def _is_approver(user: User, rule: ApprovalRule, roles: set[str]) -> bool:
    named = {n.strip().lower() for n in rule.approvers.splitlines() if n.strip()}
    return APPROVER in roles and (not named or (user.upn or "").lower() in named)


def _people(ids: Iterable[str]) -> dict[str, tuple[User, set[str]]]:
    """The portal's people by object id (lower case), each with their portal roles at their last sign-in."""
    found = User.objects.filter(object_id__in=set(ids)).prefetch_related("groups")
    return {u.object_id.lower(): (u, {g.name for g in u.groups.all()}) for u in found}


def check(rule: ApprovalRule, read: dict[str, gateway.RoleCatalog | str], names: dict[str, str]) -> RuleCheck:
    """Who can open ports in Azure directly within `rule`'s scope (`read`: its subscriptions' catalogs), and
    whether each is someone the rule trusts. `names`: subscription id → display name, for the words."""
    scopes = _scopes(rule, read)
    unread = tuple(dict.fromkeys(found for sub, _ in scopes if isinstance(found := read.get(sub, "not read"), str)))
    holders = [
        (sub, h)
        for sub, rg in scopes
        if not isinstance(read.get(sub, ""), str)
        for h in read[sub].holders(INITIATE, rg)
    ]
    writers = {
        h.principal_id
        for sub, rg in scopes
        if not isinstance(read.get(sub, ""), str)
        for h in read[sub].holders(WRITE, rg)
        if h.covers_all
    }
    people = _people(h.principal_id for _, h in holders)
    through: dict[str, list[str]] = {}
    for sub, h in holders:
        through.setdefault(h.principal_id, []).append(f"{h.role} on {_where(h.scope, sub, names)}")
    who = []
    for principal_id, ways in through.items():
        principal_type = next(h.principal_type for _, h in holders if h.principal_id == principal_id)
        user, roles = people.get(principal_id, (None, set()))
        if user is None or principal_type != "User":
            standing, name = SKIPS, ""
        else:
            name = f"{user.display_name or user.upn} ({user.upn})" if user.upn else str(user)
            standing = (
                DECIDES
                if _is_approver(user, rule, roles)
                else ADMINISTERS
                if ADMIN in roles and principal_id in writers
                else SKIPS
            )
        who.append(Who(principal_id, principal_type, name, standing, tuple(dict.fromkeys(ways))))
    who.sort(key=lambda w: ({SKIPS: 0, DECIDES: 1, ADMINISTERS: 2}[w.standing], w.label.lower()))
    return RuleCheck(rule, tuple(who), unread, tuple(_deciders(rule, scopes, read, people)))


def _where(scope: str, subscription_id: str, names: dict[str, str]) -> str:
    """An assignment's scope in words: "Contoso Production", "Contoso Production / rg-web", or the ARM scope
    itself when it lies above the subscription (a management group, the root)."""
    prefix = f"/subscriptions/{subscription_id}".lower()
    if not scope.lower().startswith(prefix):
        return scope or "/"
    rest = scope[len(prefix) :].strip("/").split("/")
    name = names.get(subscription_id.lower(), subscription_id)
    if len(rest) >= 2 and rest[0].lower() == "resourcegroups":
        return f"{name} / {'/'.join(rest[1:])}"
    return name


def _deciders(rule: ApprovalRule, scopes, read, people) -> list[str]:
    """The people the rule trusts to decide who can open ports in every part of its scope (assigned there or
    above: a right held only below covers part of it)."""
    found = None
    for sub, rg in scopes:
        answer = read.get(sub)
        if isinstance(answer, str) or answer is None:
            return []
        here = {h.principal_id for h in answer.holders(INITIATE, rg) if h.covers_all and h.principal_type == "User"}
        found = here if found is None else found & here
    return sorted(
        f"{people[p][0].display_name or people[p][0].upn}"
        for p in found or ()
        if p in people and _is_approver(people[p][0], rule, people[p][1])
    )


def who_can_decide(
    rule: ApprovalRule,
    read: dict[str, gateway.RoleCatalog | str],
    subscription_id: str,
    resource_group: str,
    requester_pk: int,
) -> list[User] | None:
    """The people who could decide on a request under `rule` for VMs in one resource group: approvers it
    trusts whose Azure roles let them open ports there (nobody approves their own). None: not known (the
    roles could not be read)."""
    answer = read.get(subscription_id.lower())
    if answer is None or isinstance(answer, str):
        return None
    ids = {h.principal_id for h in answer.holders(INITIATE, resource_group) if h.covers_all}
    return [
        user for user, roles in _people(ids).values() if user.pk != requester_pk and _is_approver(user, rule, roles)
    ]


def rule_checks(
    session, user_pk: int, subscriptions: dict[str, str], rules: Iterable[ApprovalRule] | None = None
) -> list[RuleCheck]:
    """Every rule (or those given) checked against Azure's role assignments as this person can read them.
    `subscriptions`: id → name of the subscriptions the person sees (a rule on every subscription covers
    those). The Health page calls this."""
    rules = list(ApprovalRule.objects.all() if rules is None else rules)
    needed = {s for rule in rules for s, _ in _scopes(rule, subscriptions)}
    read = catalogs(session, user_pk, needed)
    return [check(rule, read, subscriptions) for rule in rules]


def scope_words(rule: ApprovalRule, names: dict[str, str]) -> str:
    if not rule.subscription_id:
        return "every subscription"
    name = names.get(rule.subscription_id.lower(), rule.subscription_id)
    return f"{name} / {rule.resource_group}" if rule.resource_group else name


def approver_problems(
    rule: ApprovalRule, read: dict[str, gateway.RoleCatalog | str], names: dict[str, str]
) -> list[str]:
    """What is wrong with who may decide under `rule` (unsaved), in words: each approver it names must be a
    person the portal knows, hold JIT.Approver and be let open ports by Azure across its scope; and somebody
    must be able to decide at all."""
    scopes = _scopes(rule, read)
    unread = [found for sub, _ in scopes if isinstance(found := read.get(sub, "not read"), str)]
    if unread:
        return [f"The approvers could not be checked: {unread[0]}"]
    where = scope_words(rule, names)
    able = {p for p in _principals_covering(scopes, read)}
    problems = []
    named = [n.strip().lower() for n in rule.approvers.splitlines() if n.strip()]
    known = {u.upn.lower(): u for u in User.objects.filter(upn__in=named).prefetch_related("groups")} if named else {}
    for upn in named:
        user = known.get(upn)
        if user is None:
            problems.append(
                f"{upn} has never signed in to the portal: it cannot tell who that is, nor ask Azure what they may do."
            )
        elif APPROVER not in {g.name for g in user.groups.all()}:
            problems.append(f"{upn} does not hold the app role JIT.Approver, so cannot decide.")
        elif user.object_id.lower() not in able:
            problems.append(
                f"Azure does not let {upn} open ports in {where}: no role assigned to them there or "
                f"above grants {INITIATE} (a group's may, which the portal cannot see into)."
            )
    if not _deciders(rule, scopes, read, _people(able)):
        problems.append(
            f"Nobody could decide: no approver this rule trusts may open ports in {where}. Requests "
            "under it would wait until they expire."
        )
    return problems


def check_before_saving(session, user_pk: int, rule: ApprovalRule, names: dict[str, str]) -> tuple[str, list[str]]:
    """Why this person may not save `rule` at its scope (Azure's write right), else what is wrong with who may
    decide under it ("" and [] when nothing is)."""
    if reason := why_not_manage(session, user_pk, rule.subscription_id, rule.resource_group, names):
        return reason, []
    read = catalogs(session, user_pk, [rule.subscription_id] if rule.subscription_id else names)
    return "", approver_problems(rule, read, names)


def _principals_covering(scopes, read) -> set[str]:
    """People and principals whose own assignments let them open ports across every part of `scopes`."""
    found = None
    for sub, rg in scopes:
        here = {h.principal_id for h in read[sub].holders(INITIATE, rg) if h.covers_all}
        found = here if found is None else found & here
    return found or set()


def rights(session, user_pk: int, subscription_id: str, resource_group: str = "") -> gateway.Permissions:
    """What Azure lets this person do at a subscription or resource group (the permissions API), kept as long
    as an inventory."""
    key = f"rights:{user_pk}:{subscription_id.lower()}:{resource_group.lower()}"
    found = cache.get(key)
    if found is None:
        found = gateway.read_permissions(gateway.UserCredential(session), subscription_id, resource_group)
        cache.set(key, found, settings.INVENTORY_CACHE_SECONDS)
    return found


def why_not_manage(session, user_pk: int, subscription_id: str, resource_group: str, names: dict[str, str]) -> str:
    """Why this person may not create, change or delete a rule at this scope ("" when they may): it takes the
    right to write JIT policies there, as Azure's permissions API tells it. A rule on every subscription
    takes it on every subscription they see. Unknown rights refuse: no later Azure call would decide."""
    scopes = [(subscription_id, resource_group)] if subscription_id else [(s, "") for s in sorted(names)]
    if not scopes:
        return "Azure shows you no subscription, so the portal cannot tell whether you may manage rules."
    answers = gateway.parallel(lambda scope: rights(session, user_pk, *scope), scopes)
    for (sub, rg), answer in zip(scopes, answers, strict=True):
        where = names.get(sub.lower(), sub) + (f" / {rg}" if rg else "")
        if not answer.known:
            return f"Azure would not say what you may do in {where}, so the portal cannot let you manage rules there."
        if not answer.allows(WRITE):
            return (
                f"Azure does not give you {WRITE} on {where}: managing an approval rule there takes the right "
                "to write its JIT policies."
            )
    return ""


def why_no_new_rule(session, user_pk: int, groups: dict[str, set[str]]) -> str:
    """Why this person can make no rule anywhere ("" when they can somewhere): a rule takes the right to write JIT
    policies where it applies, as Azure's permissions API tells it. `groups`: each subscription they see → its
    resource groups; the subscriptions are asked first, the resource groups only when no subscription allows
    it (a role assigned on one group alone)."""
    if not groups:
        return "Azure shows you no subscription, so the portal cannot tell whether you may manage rules."
    for scopes in ([(s, "") for s in sorted(groups)], [(s, g) for s in sorted(groups) for g in sorted(groups[s])]):
        answers = gateway.parallel(lambda scope: rights(session, user_pk, *scope), scopes)
        if any(a.known and a.allows(WRITE) for a in answers):
            return ""
    return (
        f"Azure gives you {WRITE} on none of the subscriptions and resource groups you see: making an approval "
        "rule takes the right to write JIT policies where it applies."
    )


def visible_rules(session, user_pk: int, rows: Iterable) -> tuple[list[ApprovalRule], int]:
    """The rules within this person's Azure read scope (`rows`: their inventory's VM rows), and how many others
    there are. The rules page and the API both show only these."""
    groups = {(r.subscription_id.lower(), r.resource_group.lower()) for r in rows}
    every = list(ApprovalRule.objects.all())
    shown = [r for r in every if readable(r, session, user_pk, groups)]
    return shown, len(every) - len(shown)


def readable(rule: ApprovalRule, session, user_pk: int, groups: set[tuple[str, str]]) -> bool:
    """Whether a rule lies within this person's Azure read scope: a rule on every subscription always; one on
    a resource group when Azure shows them a VM there (`groups`, their inventory's); one on a subscription when
    Azure lets them read the whole subscription."""
    if not rule.subscription_id:
        return True
    if rule.resource_group:
        return (rule.subscription_id.lower(), rule.resource_group.lower()) in groups
    answer = rights(session, user_pk, rule.subscription_id)
    return answer.known and answer.allows("Microsoft.Compute/virtualMachines/read")


def nobody_decides(
    session, user_pk: int, rule: ApprovalRule, groups: Iterable[tuple[str, str]], requester_pk: int
) -> list[str]:
    """The resource groups ("rg-web in Contoso Production") where nobody could decide on a request by
    `requester_pk` under `rule`: no approver it trusts, other than the requester, whom Azure lets open ports
    there. Groups whose roles could not be read are not named (nothing is known)."""
    groups = sorted({(s.lower(), g) for s, g in groups})
    read = catalogs(session, user_pk, {s for s, _ in groups})
    return [g for s, g in groups if who_can_decide(rule, read, s, g, requester_pk) == []]
