"""The command's pure helpers: durations as people type them, and a request's state (the portal's words) as the
exit code scripts rely on."""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from tests.cli.conftest import CLI_SOURCE

sys.path.insert(0, str(CLI_SOURCE))
from jit_cli.errors import Exit, JitError  # noqa: E402
from jit_cli.words import minutes, outcome, since  # noqa: E402


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2h", 120), ("90m", 90), ("1h30m", 90), ("1d", 1440), ("PT2H", 120), ("PT1H30M", 90), ("P1D", 1440)],
)
def test_it_reads_durations(text, expected):
    assert minutes(text) == expected


@pytest.mark.parametrize("text", ["2", "two hours", "2x", "", "PT"])
def test_it_refuses_what_is_not_a_duration(text):
    with pytest.raises(JitError) as refused:
        minutes(text)
    assert refused.value.code == Exit.USAGE


def test_since_takes_a_duration_back_or_a_date():
    now = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
    assert since("7d", now) == now - dt.timedelta(days=7)
    assert since("2026-12-01", now) == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ("Open now", Exit.OK),
        ("Open now (partly refused)", Exit.OK),
        ("Pending approval (0 of 1)", None),
        ("Waiting for Azure", None),
        ("Denied", Exit.DENIED),
        ("Refused by Azure", Exit.AZURE_REFUSED),
        ("Not opened (try again)", Exit.AZURE_REFUSED),
        ("Approved, not opened", Exit.AZURE_REFUSED),
        ("Not confirmed", Exit.OTHER),
        ("Expired", Exit.EXPIRED),
        ("Expired (nobody decided)", Exit.EXPIRED),
        ("Cancelled", Exit.EXPIRED),
        ("Ended early", Exit.EXPIRED),
        ("Replaced by a newer request", Exit.EXPIRED),
    ],
)
def test_a_state_in_the_portals_words_is_an_exit_code(state, code):
    assert outcome(state) == code


def test_a_waiting_port_shows_no_end_an_opened_one_does():
    from jit_cli.main import _items_text

    item = {"vm_name": "web-02", "port": 22, "source": "10.0.0.1", "end": "2026-12-02T21:37:21Z", "message": ""}
    waiting = {
        "id": 2,
        "state": "Pending approval (0 of 1)",
        "items": [{**item, "status": "pending", "fate": "Pending approval (0 of 1)"}],
    }
    assert _items_text(waiting).splitlines()[1] == "  web-02 port 22 from 10.0.0.1: Pending approval (0 of 1)"
    opened = {"id": 3, "state": "Open now", "items": [{**item, "status": "opened", "fate": "open"}]}
    assert _items_text(opened).splitlines()[1].endswith(": open (until 2026-12-02T21:37:21Z)")
