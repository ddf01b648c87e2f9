"""Paged ARM lists read as plain JSON through an SDK client's pipeline (auth, retries, timeouts).

The generated clients' models cost several times more CPU than the JSON itself on large lists
(DESIGN §4), so inventory-sized lists are read here and turned into our own small dataclasses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest

from .clients import call
from .errors import GatewayError, SignInRequired


class Pages:
    """Iterate the items of a paged list; remembers the Date header of the first answer."""

    def __init__(self, client, path: str, params: dict[str, str]) -> None:
        self.client = client
        self.path = path
        self.params = params
        self.server_time: datetime | None = None

    def __iter__(self) -> Iterator[dict]:
        request = HttpRequest("GET", self.path, params=self.params)
        while True:
            # stream=True skips azure-core's own decoding of the body; we parse it once, below.
            response = self.client.send_request(request, stream=True)
            response.read()
            if response.status_code == 401:
                raise ClientAuthenticationError(response=response)
            if response.status_code == 404:
                raise ResourceNotFoundError(response=response)
            if response.status_code >= 400:
                raise HttpResponseError(response=response)
            if self.server_time is None:
                self.server_time = _parse_date(response.headers.get("Date"))
            body = json.loads(response.content)
            yield from body.get("value", [])
            next_link = body.get("nextLink")
            if not next_link:
                return
            request = HttpRequest("GET", next_link)


def fetch_list(credential, client, path: str, params: dict[str, str],
               what: str) -> tuple[list[dict], datetime | None] | GatewayError:
    """All items of one paged list and Azure's time, or the GatewayError that refused it, so that one
    failing list can degrade its part of a page. SignInRequired is raised: nothing else can go on."""
    pages = Pages(client, path, params)
    try:
        items = call(credential, lambda: list(pages), what)
    except SignInRequired:
        raise
    except GatewayError as error:
        return error
    return items, pages.server_time


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None
