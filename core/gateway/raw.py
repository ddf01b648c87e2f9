"""ARM answers read as plain JSON through an SDK client's pipeline (auth, retries, timeouts).

The generated clients' models cost several times more CPU than the JSON itself on large lists
(docs/architecture.md, "Azure calls and their cost"), so every answer is read here and turned into our own small dataclasses by `parse`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from azure.core.rest import HttpRequest

from .auth import UserCredential
from .clients import TokenRejected, call, reader, refusal, timeouts
from .errors import GatewayError


class Pages:
    """Iterate the items of a paged list; remembers the Date header of the first answer (Azure's clock)."""

    def __init__(
        self, client, path: str, params: dict[str, str], what: str, between_pages: Callable[[], None] | None = None
    ) -> None:
        self.client = client
        self.path = path
        self.params = params
        self.what = what
        self.between_pages = between_pages  # told when a page is in and the next is asked for
        self.server_time: datetime | None = None

    def __iter__(self) -> Iterator[dict]:
        request = HttpRequest("GET", self.path, params=self.params)
        while True:
            # stream=True skips azure-core's own decoding of the body; we parse it once, below.
            response = self.client.send_request(request, stream=True, **timeouts())
            response.read()
            if response.status_code == 401:
                raise TokenRejected()
            if response.status_code >= 400:
                raise refusal(response.status_code, response.content, response.headers, self.what)
            if self.server_time is None:
                self.server_time = _parse_date(response.headers.get("Date"))
            body = json.loads(response.content)
            yield from body.get("value", [])
            next_link = body.get("nextLink")
            if not next_link:
                return
            if self.between_pages is not None:
                self.between_pages()
            request = HttpRequest("GET", next_link)


def read_list(
    credential: UserCredential,
    path: str,
    params: dict[str, str],
    what: str,
    subscription_id: str = "",
    between_pages: Callable[[], None] | None = None,
) -> tuple[list[dict], datetime | None]:
    """All items of one paged list, and Azure's time; raises the GatewayError that refused it.
    `between_pages` is called as each page but the last is in (how fleet.py times Azure's answers)."""
    pages = Pages(reader(credential, subscription_id), path, params, what, between_pages)
    return call(credential, lambda: list(pages), what), pages.server_time


def try_list(
    credential: UserCredential,
    path: str,
    params: dict[str, str],
    what: str,
    subscription_id: str = "",
    between_pages: Callable[[], None] | None = None,
) -> tuple[list[dict], datetime | None] | GatewayError:
    """`read_list`, or the GatewayError that refused it, so that one failing list can degrade its part
    of a page. SignInRequired is raised: nothing else can go on."""
    try:
        return read_list(credential, path, params, what, subscription_id, between_pages)
    except GatewayError as error:
        return error


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None
