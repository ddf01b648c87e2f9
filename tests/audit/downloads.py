"""A download as a tool reads it: the bytes, its rows under the header on line 1, and its evidence manifest (named
by the answer's Link header, fetched as the same person)."""

from __future__ import annotations

import csv
import io
import re


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def manifest_of(client, response) -> dict:
    """The evidence manifest the answer names (after its body was read whole: it is sealed at the last byte)."""
    url = re.fullmatch(r'<([^>]+)>; rel="describedby"; type="application/json"', response["Link"])[1]
    answer = client.get(url)
    assert answer.status_code == 200, answer.content
    return answer.json()


def csv_download(client, url: str, params: dict | None = None) -> tuple[bytes, list[dict], dict]:
    """(bytes, rows as csv.DictReader reads them from line 1, manifest)."""
    response = client.get(url, params or {})
    assert response.status_code == 200, response
    data = body(response)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return data, rows, manifest_of(client, response)
