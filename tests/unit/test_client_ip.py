"""X-Forwarded-For is believed only from a configured trusted proxy."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from core.actor import client_ip


@pytest.mark.parametrize(
    "remote, forwarded, trusted, expected",
    [
        ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),  # nobody trusted: ignore the header
        ("10.0.0.5", "198.51.100.1", ["10.0.0.0/24"], "198.51.100.1"),  # our proxy says who the client is
        ("10.0.0.5", "198.51.100.1, 10.0.0.7", ["10.0.0.0/24"], "198.51.100.1"),  # through two of our proxies
        ("10.0.0.5", "6.6.6.6, 198.51.100.1", ["10.0.0.0/24"], "198.51.100.1"),  # a spoofed first hop is not believed
        ("10.0.0.5", "not-an-ip", ["10.0.0.0/24"], "10.0.0.5"),
    ],
)
def test_it_believes_forwarded_for_only_from_trusted_proxies(remote, forwarded, trusted, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXIES=trusted):
        assert client_ip(request) == expected
