"""The words the portal itself sends to Azure as a request's justification when the request is not a person's own
new ask — opened by an approver, an extension, an early end — written and read in one place.

Azure's request history is all the VM list has (it reads no portal rows), so it tells an early end or an extension
from a new grant, and the requester from the approver whose token opened it, by these words. Someone typing them
into the Azure portal by hand could mislead the VM list's count; the audit report does not rely on them where the
portal's sealed trail explains the operation."""

from __future__ import annotations

import re
from typing import NamedTuple

LIMIT = 1000  # Azure's limit, and the request form's

_ENDED = re.compile(
    r"^Ended early by (?P<by>\S+) \((?:request (?P<request>\d+) of|opened outside the portal by) "
    r"(?P<requester>\S+)\)$"
)
_APPROVED = re.compile(r"^(?P<requester>[^\s:]+@[^\s:]+): (?P<text>.*) — approved by [^—]+$", re.DOTALL)
_EXTENSION = re.compile(r"^Extension of request (?P<request>\d+): ")


def ended_early(by: str, request: int, requester: str) -> str:
    return f"Ended early by {by} (request {request} of {requester})"


def ended_outside(by: str, requester: str) -> str:
    """An early end of a window opened outside the portal (no portal request to name)."""
    return f"Ended early by {by} (opened outside the portal by {requester})"


def extension(request: int, text: str) -> str:
    """An extension's words; extending an extension names the newer request once."""
    return f"Extension of request {request}: {_EXTENSION.sub('', text)}"[:LIMIT]


def approved(requester: str, text: str, approvers: str) -> str:
    return f"{requester}: {text} — approved by {approvers}"[:LIMIT]


class Read(NamedTuple):
    kind: str  # "ended", "extension" or "grant"
    requester: str  # who asked ("" when the words do not say: Azure's requestor asked)
    request: int | None  # the portal request it ended or extends


def read(text: str) -> Read:
    ended = _ENDED.match(text or "")
    if ended:
        return Read("ended", ended["requester"], int(ended["request"]) if ended["request"] else None)
    opened = _APPROVED.match(text or "")
    requester, text = (opened["requester"], opened["text"]) if opened else ("", text or "")
    extended = _EXTENSION.match(text)
    if extended:
        return Read("extension", requester, int(extended["request"]))
    return Read("grant", requester, None)
