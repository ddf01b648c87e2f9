"""The subset of KQL (Kusto Query Language) that the sandbox's Resource Graph answers.

A small hand-written tokenizer and recursive-descent parser turn a query into a table name and a list of
stages; `run` applies the stages to rows (plain dicts). What it reads, as Microsoft's "Understanding the Azure
Resource Graph query language" and the KQL reference describe it:

    [table] ('|' stage)*
    stage := where EXPR | project COLS | project-away NAMES | extend COLS | (order|sort) by KEYS
           | (limit|take) N | top N by KEYS | summarize [NAME =] count() [by EXPRS]
    EXPR  := or / and / comparisons (==, !=, =~, !~, <, <=, >, >=, contains, !contains, startswith,
             in, in~, !in, !in~) / not(...) / functions (tostring, tolower, toupper, toint, isempty,
             isnotempty, isnull, isnotnull) / dotted paths with ['key'] and [index] / literals

Anything else raises `KqlError` naming what it met, which the service turns into Azure's parser-failure error.
Values follow KQL where the portal can tell: `==` is case-sensitive and `=~` not; a missing property is null,
and compares as the empty string (tostring's null); `order by` is descending unless told `asc`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

TABLES = ("resources", "securityresources")
OPERATORS = ("where", "project", "project-away", "extend", "order", "sort", "limit", "take", "top", "summarize")
FUNCTIONS = ("tostring", "tolower", "toupper", "toint", "isempty", "isnotempty", "isnull", "isnotnull", "not")
COMPARISONS = (
    "==",
    "!=",
    "=~",
    "!~",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "!contains",
    "startswith",
    "in",
    "in~",
    "!in",
    "!in~",
)


class KqlError(ValueError):
    """A query the sandbox cannot run: `token` is what it stopped at, `position` where (0-based)."""

    def __init__(self, message: str, token: str = "", position: int = -1) -> None:
        super().__init__(message)
        self.token = token
        self.position = position


# --- tokens -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str  # "name", "string", "number", "op", "end"
    text: str
    position: int
    value: object = None


_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<name>in~|[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!in~|!in|!contains|==|!=|=~|!~|<=|>=|[|,()\[\].=<>*+\-/%:;{}!@$])
""",
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            raise KqlError(f"Unexpected character '{text[position]}' at position {position}.", text[position], position)
        kind, lexeme = found.lastgroup or "", found.group()
        if kind == "string":
            tokens.append(Token("string", lexeme, position, _unquote(lexeme)))
        elif kind == "number":
            tokens.append(Token("number", lexeme, position, float(lexeme) if "." in lexeme else int(lexeme)))
        elif kind in ("name", "op"):
            tokens.append(Token(kind, lexeme, position))
        position = found.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(lexeme: str) -> str:
    body = lexeme[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), body)


# --- the parsed query ---------------------------------------------------------------------------------------
Expr = Callable[[dict], object]


@dataclass
class Column:
    name: str
    expr: Expr


@dataclass
class SortKey:
    expr: Expr
    descending: bool


@dataclass
class Stage:
    operator: str  # where, project, project-away, extend, order, limit, top, summarize
    predicate: Expr | None = None
    columns: list[Column] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    keys: list[SortKey] = field(default_factory=list)
    count: int = 0
    type_filter: frozenset[str] | None = None  # where: the lower-case types a leading `type` test admits


@dataclass
class Query:
    table: str
    stages: list[Stage]

    def types(self) -> frozenset[str] | None:
        """The lower-case resource types the leading where stages admit (None: any); lets the service read
        one type's rows instead of the whole table."""
        admitted: frozenset[str] | None = None
        for stage in self.stages:
            if stage.operator != "where":
                break
            if stage.type_filter is not None:
                admitted = stage.type_filter if admitted is None else admitted & stage.type_filter
        return admitted

    def projects(self, name: str) -> bool:
        """Whether the result keeps a column `name` (paging needs `id`)."""
        kept = True
        for stage in self.stages:
            if stage.operator in ("project", "summarize"):
                kept = any(c.name == name for c in stage.columns)
            elif stage.operator == "project-away" and name in stage.names:
                kept = False
            elif stage.operator == "extend" and any(c.name == name for c in stage.columns):
                kept = True
        return kept


def parse(text: str) -> Query:
    return _Parser(tokenize(text)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0

    # plumbing
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text in ops

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            self.fail(f"Expected '{op}'")
        return self.take()

    def expect_word(self, word: str) -> Token:
        if not self.is_word(word):
            self.fail(f"Expected '{word}'")
        return self.take()

    def fail(self, message: str) -> None:
        token = self.peek()
        shown = token.text or "end of query"
        raise KqlError(f"{message} at position {token.position}, found '{shown}'.", token.text, token.position)

    # query and stages
    def query(self) -> Query:
        table = "resources"
        if self.peek().kind == "end":
            self.fail("Expected a table or an operator")
        if self.peek().kind == "name" and self.peek().text.lower() in TABLES:
            table = self.take().text.lower()
        elif self.peek().kind == "name" and self.peek().text.lower() not in OPERATORS:
            token = self.peek()
            raise KqlError(
                f"The sandbox's Resource Graph has no table '{token.text}' (it has {', '.join(TABLES)}).",
                token.text,
                token.position,
            )
        else:  # a query may start with its first operator, on the resources table (the 2019-04-01 examples)
            self.tokens.insert(self.at, Token("op", "|", self.peek().position))
        stages: list[Stage] = []
        while self.is_op("|"):
            self.take()
            stages.append(self.stage())
        if self.peek().kind != "end":
            self.fail("Expected '|' or the end of the query")
        return Query(table, stages)

    def stage(self) -> Stage:
        token = self.peek()
        word = token.text.lower() if token.kind == "name" else ""
        if word not in OPERATORS:
            raise KqlError(
                f"The sandbox's Resource Graph does not support the operator '{token.text}' (it supports "
                f"{', '.join(OPERATORS)}).",
                token.text,
                token.position,
            )
        self.take()
        if word == "where":
            predicate_start = self.at
            predicate = self.expression()
            return Stage("where", predicate=predicate, type_filter=self._type_filter(predicate_start))
        if word == "project":
            return Stage("project", columns=self.columns(named_only=False))
        if word == "extend":
            return Stage("extend", columns=self.columns(named_only=True))
        if word == "project-away":
            return Stage("project-away", names=self.names())
        if word in ("order", "sort"):
            self.expect_word("by")
            return Stage("order", keys=self.sort_keys())
        if word in ("limit", "take"):
            return Stage("limit", count=self.count())
        if word == "top":
            count = self.count()
            self.expect_word("by")
            return Stage("top", count=count, keys=self.sort_keys())
        return self.summarize()

    def count(self) -> int:
        token = self.take()
        if token.kind != "number" or not isinstance(token.value, int):
            self.at -= 1
            self.fail("Expected a whole number")
        return int(token.value)  # type: ignore[arg-type]

    def names(self) -> list[str]:
        names = [self.name()]
        while self.is_op(","):
            self.take()
            names.append(self.name())
        return names

    def name(self) -> str:
        token = self.peek()
        if token.kind != "name":
            self.fail("Expected a column name")
        return self.take().text

    def columns(self, named_only: bool) -> list[Column]:
        columns = [self.column(named_only)]
        while self.is_op(","):
            self.take()
            columns.append(self.column(named_only))
        return columns

    def column(self, named_only: bool) -> Column:
        if self.peek().kind == "name" and self.peek(1).kind == "op" and self.peek(1).text == "=":
            name = self.take().text
            self.take()
            return Column(name, self.expression())
        if named_only:
            self.fail("Expected 'name = expression'")
        start = self.at
        expr = self.expression()
        return Column(self._column_name(start), expr)

    def _column_name(self, start: int) -> str:
        """KQL's name for an unnamed column: a path with its dots as underscores (`properties.a.b` →
        `properties_a_b`), looking through one function call (`tostring(x.y)` → `x_y`)."""
        tokens = self.tokens[start : self.at]
        if len(tokens) >= 3 and tokens[0].kind == "name" and tokens[1].text == "(" and tokens[-1].text == ")":
            tokens = tokens[2:-1]
        parts = [
            str(t.value) if t.kind in ("string", "number") else t.text for t in tokens if t.text not in (".", "[", "]")
        ]
        if not parts or not all(re.fullmatch(r"[A-Za-z0-9_$-]+", p) for p in parts):
            return f"Column{start}"
        return "_".join(parts)

    def sort_keys(self) -> list[SortKey]:
        keys = [self.sort_key()]
        while self.is_op(","):
            self.take()
            keys.append(self.sort_key())
        return keys

    def sort_key(self) -> SortKey:
        expr = self.expression()
        descending = True  # KQL sorts descending unless told otherwise
        if self.is_word("asc", "desc"):
            descending = self.take().text.lower() == "desc"
        if self.is_word("nulls"):
            self.fail("The sandbox does not support 'nulls first|last'")
        return SortKey(expr, descending)

    def summarize(self) -> Stage:
        name = "count_"
        if self.peek().kind == "name" and self.peek(1).text == "=":
            name = self.take().text
            self.take()
        if not (self.is_word("count") and self.peek(1).text == "("):
            token = self.peek()
            raise KqlError(
                f"The sandbox's Resource Graph supports only count() in summarize, not '{token.text}'.",
                token.text,
                token.position,
            )
        self.take()
        self.expect_op("(")
        self.expect_op(")")
        keys: list[Column] = []
        if self.is_word("by"):
            self.take()
            keys = self.columns(named_only=False)
        return Stage("summarize", columns=[*keys, Column(name, _constant(None))])

    def _type_filter(self, start: int) -> frozenset[str] | None:
        """The types a where clause admits when it is `type ==|=~ 'x'` or `type in|in~ (…)`, alone or first
        in a chain of `and`s; otherwise None."""
        tokens = self.tokens[start : self.at]
        if len(tokens) < 3 or tokens[0].kind != "name" or tokens[0].text != "type":
            return None
        op = tokens[1].text
        if op in ("==", "=~") and tokens[2].kind == "string":
            rest = tokens[3:]
            values = [str(tokens[2].value)]
        elif op in ("in", "in~") and tokens[2].text == "(":
            close = next((i for i, t in enumerate(tokens) if t.text == ")"), None)
            if close is None:
                return None
            values = [str(t.value) for t in tokens[3:close] if t.kind == "string"]
            rest = tokens[close + 1 :]
        else:
            return None
        if rest and not (rest[0].kind == "name" and rest[0].text.lower() == "and"):
            return None
        if any(t.text.lower() == "or" for t in rest if t.kind == "name"):
            return None  # `a and b or c` binds as `(a and b) or c`
        return frozenset(v.lower() for v in values)

    # expressions
    def expression(self) -> Expr:
        left = self.conjunction()
        while self.is_word("or"):
            self.take()
            right = self.conjunction()
            left = _either(left, right)
        return left

    def conjunction(self) -> Expr:
        left = self.comparison()
        while self.is_word("and"):
            self.take()
            right = self.comparison()
            left = _both(left, right)
        return left

    def comparison(self) -> Expr:
        left = self.primary()
        token = self.peek()
        op = token.text.lower() if token.kind == "name" else token.text if token.kind == "op" else ""
        if op not in COMPARISONS:
            if token.kind == "name" and token.text.lower() in (
                "has",
                "!has",
                "endswith",
                "matches",
                "between",
                "has_any",
                "contains_cs",
                "startswith_cs",
            ):
                raise KqlError(
                    f"The sandbox's Resource Graph does not support the operator '{token.text}'.",
                    token.text,
                    token.position,
                )
            return left
        self.take()
        if op in ("in", "in~", "!in", "!in~"):
            return _membership(left, self.literal_list(), op)
        return _compare(left, self.primary(), op)

    def literal_list(self) -> list[object]:
        self.expect_op("(")
        values = [self.literal()]
        while self.is_op(","):
            self.take()
            values.append(self.literal())
        self.expect_op(")")
        return values

    def literal(self) -> object:
        token = self.peek()
        if token.kind in ("string", "number"):
            return self.take().value
        self.fail("Expected a literal")
        return None

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind in ("string", "number"):
            self.take()
            return _constant(token.value)
        if self.is_op("("):
            self.take()
            inner = self.expression()
            self.expect_op(")")
            return inner
        if token.kind == "name" and token.text.lower() in ("true", "false"):
            self.take()
            return _constant(token.text.lower() == "true")
        if token.kind == "name" and self.peek(1).text == "(":
            return self.call()
        if token.kind == "name":
            return self.path()
        self.fail("Expected a value, a column or a function")
        return _constant(None)

    def call(self) -> Expr:
        token = self.take()
        name = token.text.lower()
        if name not in FUNCTIONS:
            raise KqlError(
                f"The sandbox's Resource Graph does not support the function '{token.text}()' (it supports "
                f"{', '.join(f + '()' for f in FUNCTIONS)}).",
                token.text,
                token.position,
            )
        self.expect_op("(")
        argument = self.expression()
        self.expect_op(")")
        return _function(name, argument)

    def path(self) -> Expr:
        steps: list[str | int] = [self.take().text]
        while True:
            if self.is_op("."):
                self.take()
                steps.append(self.name())
            elif self.is_op("["):
                self.take()
                token = self.take()
                if token.kind not in ("string", "number"):
                    self.at -= 1
                    self.fail("Expected 'key' or an index")
                steps.append(token.value)  # type: ignore[arg-type]
                self.expect_op("]")
            else:
                return _path(tuple(steps))


# --- expressions as closures --------------------------------------------------------------------------------
def _constant(value: object) -> Expr:
    return lambda row: value


def _path(steps: tuple[str | int, ...]) -> Expr:
    first, rest = steps[0], steps[1:]

    def get(row: dict) -> object:
        value = row.get(first)  # type: ignore[arg-type]
        for step in rest:
            if isinstance(value, dict) and isinstance(step, str):
                value = value.get(step)
            elif isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value):
                value = value[step]
            else:
                return None
        return value

    return get


def to_string(value: object) -> str:
    """KQL's tostring(): null is the empty string, dynamic values their compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _to_int(value: object) -> int | None:
    if isinstance(value, bool):
        return int(value)
    try:
        return int(float(value)) if isinstance(value, str) else int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


def _function(name: str, argument: Expr) -> Expr:
    functions: dict[str, Callable[[object], object]] = {
        "tostring": to_string,
        "tolower": lambda v: to_string(v).lower(),
        "toupper": lambda v: to_string(v).upper(),
        "toint": _to_int,
        "isempty": lambda v: v is None or v == "",
        "isnotempty": lambda v: not (v is None or v == ""),
        "isnull": lambda v: v is None,
        "isnotnull": lambda v: v is not None,
        "not": lambda v: not _truthy(v),
    }
    apply = functions[name]
    return lambda row: apply(argument(row))


def _truthy(value: object) -> bool:
    return value is True


def _either(left: Expr, right: Expr) -> Expr:
    return lambda row: _truthy(left(row)) or _truthy(right(row))


def _both(left: Expr, right: Expr) -> Expr:
    return lambda row: _truthy(left(row)) and _truthy(right(row))


def _ordered(a: object, b: object) -> tuple[object, object] | None:
    """Two values as comparable operands: numbers as numbers, anything else as strings; None when one is null."""
    if a is None or b is None:
        return None
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return a, b
    return to_string(a), to_string(b)


def _compare(left: Expr, right: Expr, op: str) -> Expr:
    def test(row: dict) -> bool:
        a, b = left(row), right(row)
        if op in ("==", "!=", "=~", "!~", "contains", "!contains", "startswith"):
            x, y = to_string(a), to_string(b)
            if op in ("=~", "!~", "contains", "!contains", "startswith"):
                x, y = x.lower(), y.lower()
            if op in ("==", "=~"):
                return x == y
            if op in ("!=", "!~"):
                return x != y
            if op == "startswith":
                return x.startswith(y)
            return (y in x) == (op == "contains")
        pair = _ordered(a, b)
        if pair is None:
            return False
        x, y = pair
        try:
            return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]  # type: ignore[operator]
        except TypeError:
            return False

    return test


def _membership(left: Expr, values: list[object], op: str) -> Expr:
    insensitive = op.endswith("~")
    wanted = frozenset(to_string(v).lower() if insensitive else to_string(v) for v in values)
    negated = op.startswith("!")

    def test(row: dict) -> bool:
        value = to_string(left(row))
        return ((value.lower() if insensitive else value) in wanted) != negated

    return test


# --- running the stages -------------------------------------------------------------------------------------
def _sort_value(value: object) -> tuple:
    """Nulls apart from values; numbers before strings; dynamic values by their JSON."""
    if value is None:
        return (0,)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    return (2, to_string(value))


def _sorted(rows: list[dict], keys: list[SortKey]) -> list[dict]:
    result = list(rows)
    for key in reversed(keys):  # stable sorts, least significant key first
        result.sort(key=lambda row, k=key: _sort_value(k.expr(row)), reverse=key.descending)
    return result


def run(stages: list[Stage], rows: Sequence[Mapping]) -> list[Mapping]:
    """Apply the stages in order to rows (any Mapping whose `get` reads a column). Rows are never changed in
    place: project, extend and project-away make new dicts."""
    for stage in stages:
        if stage.operator == "where":
            predicate = stage.predicate
            rows = [row for row in rows if _truthy(predicate(row))]  # type: ignore[misc]
        elif stage.operator == "project":
            rows = [{c.name: c.expr(row) for c in stage.columns} for row in rows]
        elif stage.operator == "extend":
            rows = [{**row, **{c.name: c.expr(row) for c in stage.columns}} for row in rows]  # any Mapping
        elif stage.operator == "project-away":
            away = set(stage.names)
            rows = [{k: v for k, v in row.items() if k not in away} for row in rows]
        elif stage.operator == "order":
            rows = _sorted(rows, stage.keys)
        elif stage.operator == "limit":
            rows = rows[: stage.count]
        elif stage.operator == "top":
            rows = _sorted(rows, stage.keys)[: stage.count]
        elif stage.operator == "summarize":
            rows = _summarize(rows, stage.columns)
    return rows


def _summarize(rows: list[dict], columns: list[Column]) -> list[dict]:
    *keys, counted = columns
    groups: dict[tuple, dict] = {}
    for row in rows:
        values = tuple(c.expr(row) for c in keys)
        marker = tuple(to_string(v) for v in values)
        group = groups.get(marker)
        if group is None:
            group = groups[marker] = {**{c.name: v for c, v in zip(keys, values, strict=True)}, counted.name: 0}
        group[counted.name] += 1
    return list(groups.values())
