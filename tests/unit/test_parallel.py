"""`gateway.parallel` runs calls on threads kept for the process: what a caller may rely on."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest
from django.db import connections
from django.test import override_settings

from core.gateway import parallel

CALLER = contextvars.ContextVar("caller", default="none")


def test_results_come_back_in_the_items_order_whatever_finishes_first():
    assert parallel(lambda n: time.sleep(0.01 * (5 - n)) or n * n, range(6)) == [0, 1, 4, 9, 16, 25]


def test_each_call_sees_the_callers_context():
    CALLER.set("alice's request")
    assert parallel(lambda _: CALLER.get(), range(4)) == ["alice's request"] * 4


def test_a_caller_has_at_most_azure_parallel_calls_at_once():
    at_once, lock = {"now": 0, "most": 0}, threading.Lock()

    def call(_):
        with lock:
            at_once["now"] += 1
            at_once["most"] = max(at_once["most"], at_once["now"])
        time.sleep(0.02)
        with lock:
            at_once["now"] -= 1

    with override_settings(AZURE_PARALLEL_CALLS=3):
        parallel(call, range(12))
    assert at_once["most"] == 3


def test_threads_are_kept_between_callers():
    parallel(lambda _: time.sleep(0.01), range(4))
    # The threads mark themselves idle just after their results are in: a busy machine can run the next caller
    # before that, and the pool then rightly starts another thread.
    time.sleep(0.3)
    alive = set(threading.enumerate())
    second = set(parallel(lambda _: (time.sleep(0.01), threading.current_thread())[1], range(4)))
    # Any kept thread may take a call (earlier tests may have left many idle): none of them is new.
    assert second <= alive, "the second caller's calls ran on new threads"


@pytest.mark.django_db(transaction=True)
def test_a_kept_thread_does_not_keep_a_database_connection_a_call_opened():
    def query(_):
        wrapper = connections["default"]  # this thread's own
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        return wrapper

    used = parallel(query, range(3))
    assert all(c.connection is None for c in used)


def test_an_error_reaches_the_caller():
    def call(n):
        if n == 2:
            raise ValueError("Azure said no")
        return n

    with pytest.raises(ValueError, match="Azure said no"):
        parallel(call, range(4))
