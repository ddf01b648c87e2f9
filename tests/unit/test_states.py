"""A request's one state machine: which state may follow which, and the words every page uses."""

from __future__ import annotations

import pytest

from requests_app.states import ITEM_TRANSITIONS, REQUEST_TRANSITIONS, IllegalTransition, ItemStatus, RequestStatus

R, Item = RequestStatus, ItemStatus


def test_every_state_has_its_row_in_the_tables():
    assert set(REQUEST_TRANSITIONS) == set(RequestStatus) and set(ITEM_TRANSITIONS) == set(ItemStatus)


@pytest.mark.parametrize(
    "start, end",
    [
        (R.PENDING_APPROVAL, R.WAITING_FOR_AZURE),
        (R.PENDING_APPROVAL, R.DENIED),
        (R.PENDING_APPROVAL, R.LAPSED),
        (R.PENDING_APPROVAL, R.CANCELLED),
        (R.WAITING_FOR_AZURE, R.OPENED),
        (R.WAITING_FOR_AZURE, R.PARTLY_OPENED),
        (R.WAITING_FOR_AZURE, R.NOT_OPENED),
        (R.WAITING_FOR_AZURE, R.APPROVED_NOT_OPENED),
        (R.NOT_OPENED, R.APPROVED_NOT_OPENED),
        (R.APPROVED_NOT_OPENED, R.WAITING_FOR_AZURE),
    ],
)
def test_a_request_moves_as_the_workflow_does(start, end):
    assert start.step(end) is end


@pytest.mark.parametrize(
    "start, end",
    [
        (R.DENIED, R.WAITING_FOR_AZURE),  # a denial is final: nothing may open it
        (R.LAPSED, R.WAITING_FOR_AZURE),
        (R.CANCELLED, R.WAITING_FOR_AZURE),
        (R.PENDING_APPROVAL, R.OPENED),  # approval comes before Azure, never instead of it
        (R.OPENED, R.NOT_OPENED),
        (R.PARTLY_OPENED, R.OPENED),
        (R.NOT_OPENED, R.WAITING_FOR_AZURE),
        (R.APPROVED_NOT_OPENED, R.DENIED),
    ],
)
def test_a_request_cannot_jump(start, end):
    with pytest.raises(IllegalTransition, match=f"cannot become {end.label}"):
        start.step(end)


@pytest.mark.parametrize(
    "start, end, allowed",
    [
        (Item.WAITING_FOR_AZURE, Item.OPENED, True),
        (Item.UNKNOWN, Item.WAITING_FOR_AZURE, True),
        (Item.OPENED, Item.WAITING_FOR_AZURE, False),
        (Item.REFUSED, Item.OPENED, False),
        (Item.OPENED, Item.FAILED, False),
        (Item.FAILED, Item.OPENED, True),
        (Item.UNKNOWN, Item.OPENED, True),  # a lost answer Azure applied late
    ],
)
def test_a_port_moves_only_as_its_table_says(start, end, allowed):
    if allowed:
        assert start.step(end) is end
    else:
        with pytest.raises(IllegalTransition):
            start.step(end)


def test_a_guarded_update_reads_its_filter_from_the_table():
    assert set(R.from_states(R.LAPSED)) == {R.PENDING_APPROVAL}
    assert set(R.from_states(R.APPROVED_NOT_OPENED)) == {R.WAITING_FOR_AZURE, R.NOT_OPENED}
    assert Item.OPENED not in Item.from_states(Item.WAITING_FOR_AZURE)


def test_the_database_keeps_its_values_and_pages_read_the_words():
    assert (R.WAITING_FOR_AZURE.value, R.PENDING_APPROVAL.value) == ("pending", "awaiting")
    assert (R.WAITING_FOR_AZURE.label, R.PENDING_APPROVAL.label) == ("waiting for Azure", "pending approval")


def test_a_refused_step_says_what_may_not_follow_what():
    with pytest.raises(IllegalTransition) as refused:
        R.DENIED.step(R.WAITING_FOR_AZURE)
    assert str(refused.value) == "A request denied cannot become waiting for Azure."
    with pytest.raises(IllegalTransition) as refused:
        Item.OPENED.step(Item.FAILED)
    assert str(refused.value) == "A port opened cannot become not opened (try again)."


def test_a_ports_guarded_update_reads_its_filter_from_the_table():
    assert Item.from_states(Item.WAITING_FOR_AZURE) == [Item.WAITING_FOR_AZURE, Item.REFUSED, Item.FAILED, Item.UNKNOWN]
    # Azure may apply an opening late: a failed or unconfirmed port becomes opened when its history shows it.
    assert Item.from_states(Item.OPENED) == [Item.WAITING_FOR_AZURE, Item.FAILED, Item.UNKNOWN]
    assert R.from_states(R.PENDING_APPROVAL) == []
