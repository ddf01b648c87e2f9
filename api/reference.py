"""The API's reference page: the portal's own OpenAPI document rendered as plain HTML in the portal's frame and
style, with no script (Swagger UI failed axe: colour contrast, buttons nested in buttons, headings out of order)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool
    where: str = ""  # path, query, header; "" for a schema's property
    description: str = ""


@dataclass(frozen=True)
class Answer:
    status: str
    description: str
    media_type: str
    type: str


@dataclass(frozen=True)
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    parameters: list[Field]
    body: str  # the request body's type, "" when none
    answers: list[Answer]
    signed_in: bool


def type_words(schema: dict[str, Any]) -> str:
    """A JSON schema in a few words: a component's name, "list of Port", "string (date-time) or null"."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(dict.fromkeys(type_words(s) for s in schema[key]))
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_words(schema.get('items') or {})}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_words(schema['additionalProperties'])}"
    return f"{kind} ({schema['format']})" if schema.get("format") else str(kind)


def _operation(path: str, method: str, op: dict[str, Any]) -> Operation:
    parameters = [
        Field(
            p["name"],
            type_words(p.get("schema") or {}),
            bool(p.get("required")),
            p.get("in", ""),
            p.get("description") or (p.get("schema") or {}).get("description", ""),
        )
        for p in op.get("parameters") or []
    ]
    body = next(iter((op.get("requestBody") or {}).get("content", {}).values()), {}).get("schema")
    answers = [
        Answer(
            status,
            a.get("description", ""),
            *next(((media, type_words(c.get("schema") or {})) for media, c in a.get("content", {}).items()), ("", "")),
        )
        for status, a in (op.get("responses") or {}).items()
    ]
    return Operation(
        op.get("operationId", f"{method}-{path}"),
        method.upper(),
        path,
        op.get("summary", ""),
        op.get("description", ""),
        parameters,
        type_words(body) if body else "",
        answers,
        bool(op.get("security")),
    )


def sections(document: dict[str, Any]) -> list[tuple[str, list[Operation]]]:
    """The document's operations grouped by their first tag, in the document's order."""
    grouped: dict[str, list[Operation]] = {}
    for path, operations in (document.get("paths") or {}).items():
        for method in METHODS:
            if method in operations:
                op = operations[method]
                grouped.setdefault((op.get("tags") or ["Other"])[0], []).append(_operation(path, method, op))
    return list(grouped.items())


def schemas(document: dict[str, Any]) -> list[tuple[str, str, list[Field]]]:
    """Each component schema: its name, description and properties."""
    found = []
    for name, schema in sorted(((document.get("components") or {}).get("schemas") or {}).items()):
        required = set(schema.get("required") or [])
        fields = [
            Field(key, type_words(prop), key in required, "", prop.get("description", ""))
            for key, prop in (schema.get("properties") or {}).items()
        ]
        found.append((name, schema.get("description", ""), fields))
    return found


class Reference(DocsBase):
    """django-ninja's docs page, rendered by the portal: the document's operations, their parameters, bodies and
    answers (errors as application/problem+json), and its schemas; the JSON document one link away."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        document = api.get_openapi_schema(path_params=kwargs)
        return render(
            request,
            "api/reference.html",
            {
                "info": document.get("info", {}),
                "openapi_url": self.get_openapi_url(api, kwargs),
                "sections": sections(document),
                "schemas": schemas(document),
            },
        )
