"""A write's outcome on a page of its own (post/redirect/get): the POST stores it in the person's session
under a one-time key and redirects; reloading the outcome page shows it again and never re-posts."""

from __future__ import annotations

import uuid

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpResponseRedirect
from django.urls import reverse

from .actions import Outcome

KEPT = 20  # the last few outcomes stay readable (reload, back button); older ones are dropped
PREFIX = "vms.outcome."


def redirect_to_outcome(
    session: SessionBase, title: str, outcomes: list[Outcome], notes: list[str] = (), clear_tab: str = ""
) -> HttpResponseRedirect:
    """Keep the outcome in the session and send the browser to see it with a GET."""
    keys = [k for k in session.get(PREFIX + "keys", []) if PREFIX + k in session]
    key = uuid.uuid4().hex
    session[PREFIX + key] = {
        "title": title,
        "notes": list(notes),
        "clear_tab": clear_tab,
        "outcomes": [[o.vm_name, o.ok, o.message] for o in outcomes],
    }
    for old in keys[: max(0, len(keys) + 1 - KEPT)]:
        session.pop(PREFIX + old, None)
    session[PREFIX + "keys"] = [*keys[-(KEPT - 1) :], key]
    return HttpResponseRedirect(reverse("vms-outcome", args=[key]))


def stored_outcome(session: SessionBase, key: str) -> dict | None:
    """The outcome saved under `key` in this person's session, with `Outcome` values, or None."""
    kept = session.get(PREFIX + key) if key.isalnum() else None
    if kept is None:
        return None
    return {**kept, "outcomes": [Outcome(*o) for o in kept["outcomes"]]}
