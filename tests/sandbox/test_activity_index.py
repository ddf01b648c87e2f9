"""The sandbox finds an Activity Log time range by bisection in an index that follows the log as it grows
(appended out of time order too), and answers exactly what a scan of the whole log would."""

from __future__ import annotations

import datetime as dt
import random

from sandbox import activity


def scanned(log: list[dict], sub: str, query: activity.Query) -> list[dict]:
    found = [e for e in log if e["subscriptionId"].lower() == sub.lower() and query.matches(e)]
    return sorted(found, key=lambda e: e["eventTimestamp"], reverse=True)


def test_it_answers_as_a_scan_would_while_the_log_grows_out_of_order():
    rng = random.Random(13)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    log: list[dict] = []
    queries = [
        activity.Query(start + dt.timedelta(minutes=a), start + dt.timedelta(minutes=a + span), field, value)
        for a, span in ((0, 10_000), (30, 60), (100, 0), (500, 400))
        for field, value in (("", ""), ("resourcegroupname", "RG-1"))
    ]
    for round_ in range(4):
        for n in range(300):
            when = start + dt.timedelta(minutes=rng.randrange(1000), milliseconds=rng.choice((0, 0, 500)))
            log.append(
                {
                    "subscriptionId": rng.choice(("SUB-A", "sub-b")),
                    "eventTimestamp": activity.format_time(when),
                    "resourceGroupName": f"rg-{n % 3}",
                    "eventDataId": f"{round_}-{n}",
                }
            )
        for query in queries:
            for sub in ("sub-a", "SUB-B", "sub-c"):
                assert activity.between(log, sub, query) == scanned(log, sub, query)


def test_a_new_log_is_indexed_afresh():
    query = activity.Query(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    event = {"subscriptionId": "s", "eventTimestamp": "2026-01-01T12:00:00Z", "resourceGroupName": "rg"}
    assert activity.between([event], "s", query) == [event]
    assert activity.between([], "s", query) == []
