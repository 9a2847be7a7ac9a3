"""Checks at the dispatcher's two doors: a worker's Hello, and a call's input (JSON Schema).

The server is the one place a remote call's input is checked against the handler's schema,
for workers of every SDK (the TypeScript and Go workers rely on it; the Python worker's pydantic
pass is how it builds typed arguments, not a second gate): bad input is refused before any
worker gets the call, with one field violation per error. Most inputs are valid, so a compiled
validator (``jsonschema_rs``, ~0.2 us a call against ~13 us for ``jsonschema``) answers first;
only input it refuses is walked by ``jsonschema`` for the violations, and ``jsonschema`` has
the last word (a schema the fast one cannot compile, or a refusal it cannot explain, is
decided by ``jsonschema`` alone).

The two libraries disagree on a few keywords: ``multipleOf`` (exact decimal arithmetic against
Python float division: 0.3 is a multiple of 0.1 for one, not for the other) and regular
expressions (``pattern``, ``patternProperties``: ECMA 262 against Python's ``re``, e.g. what
``\\s`` matches). A schema that uses any of them anywhere has no fast path, so a valid answer
from the fast validator never overrules ``jsonschema``. ``format`` is an annotation for both
(``jsonschema`` is given no format checker, the fast one is told not to check formats).

A schema comes from a worker, so neither library may fetch what it references: a ``$ref`` to
``http://`` or ``file://`` would make the server send requests or read local files. Both are
given a retriever that refuses (and records) every URI; the Hello is refused naming the
handler's ``input_schema`` when its schema refers outside itself. Local references
(``#/$defs/...``, ``#/definitions/...``, resources embedded with ``$id``) need no retrieval.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema
import jsonschema_rs
import referencing
import referencing.exceptions
from aworld_client import HandlerKind, HandlerSpec, Payload
from aworld_client.worker_service import Hello

from aworld_server.errors import FieldViolation, InvalidArgument, InvalidInput

__all__ = ["check_hello", "check_input"]

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_KINDS = frozenset(k for k in HandlerKind if k is not HandlerKind.UNSPECIFIED)


def check_hello(hello: Hello) -> None:
    """Raise InvalidArgument unless the Hello declares at least one well-formed handler."""
    violations: list[FieldViolation] = []
    if hello.max_concurrency < 0:
        violations.append(FieldViolation("max_concurrency", "must not be negative"))
    if not hello.handlers:
        violations.append(FieldViolation("handlers", "declare at least one handler"))
    seen: set[tuple[str, HandlerKind]] = set()
    for i, spec in enumerate(hello.handlers):
        where = f"handlers[{i}]"
        if not _NAME.fullmatch(spec.name):
            violations.append(
                FieldViolation(f"{where}.name", f"{spec.name!r} does not match [A-Za-z0-9_.-]+")
            )
        if spec.kind not in _KINDS:
            violations.append(
                FieldViolation(f"{where}.kind", "must be TOOL, AGENT, HOOK or CALLBACK")
            )
        if (spec.name, spec.kind) in seen:
            violations.append(FieldViolation(f"{where}.name", f"{spec.name!r} declared twice"))
        seen.add((spec.name, spec.kind))
        if spec.input_schema:
            try:
                _validator(spec.input_schema)
            except (ValueError, TypeError, jsonschema.SchemaError) as error:
                message = getattr(error, "message", None) or str(error)
                violations.append(
                    FieldViolation(f"{where}.input_schema", f"not a JSON Schema: {message}")
                )
                continue
            refused = _outside_refs(spec.input_schema)
            if refused:
                violations.append(FieldViolation(f"{where}.input_schema", _refused(refused)))
    if violations:
        raise InvalidArgument("invalid Hello", violations)


def check_input(spec: HandlerSpec, payload: Payload) -> None:
    """Raise InvalidInput unless ``payload`` matches the spec's input schema (empty: anything).

    An empty payload is checked as ``{}``, the way ``HandlerFunction.validate`` reads it.
    """
    if not spec.input_schema:
        return
    if payload.data is not None:
        raise InvalidInput(spec.name, [FieldViolation("input", "must be JSON or text, not bytes")])
    value: Any = {} if payload.is_empty else payload.value()
    fast = _fast_validator(spec.input_schema)
    if fast is not None:
        try:
            if fast.is_valid(value):
                return
        except (ValueError, TypeError, OverflowError):  # a value it cannot take: ask jsonschema
            pass
    try:
        errors = sorted(_validator(spec.input_schema).iter_errors(value), key=lambda e: e.json_path)
    except referencing.exceptions.Unresolvable as error:
        # Only a schema the fast validator could not compile gets here with an outside
        # reference (the Hello check found none); nothing was fetched.
        raise InvalidInput(
            spec.name, [FieldViolation("input_schema", _refused([error.ref]))]
        ) from error
    if errors:
        raise InvalidInput(
            spec.name,
            [FieldViolation(_field(e.json_path), e.message) for e in errors],
        )


def _field(json_path: str) -> str:
    # jsonschema paths look like "$", "$.city" or "$.items[0]"; violations name fields as
    # dotted paths under "input".
    return "input" + json_path.removeprefix("$")


# Keywords on which jsonschema_rs and jsonschema can give different answers (see above).
_DISAGREE = frozenset({"multipleOf", "pattern", "patternProperties"})


def _refuse(uri: str) -> referencing.Resource[Any]:
    # The server fetches no schema from outside the Hello.
    # referencing builds its classes with attrs in a way mypy cannot see through.
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]


# Every validator resolves references in this registry: the drafts' meta-schemas are built in,
# anything else is refused rather than fetched.
_NO_RETRIEVAL: referencing.Registry[Any] = referencing.Registry(
    retrieve=_refuse  # type: ignore[call-arg]
)


def _refused(uris: list[str]) -> str:
    return (
        f"$ref to {', '.join(repr(u) for u in uris)} refused: the server fetches no remote or"
        " file schema; inline it under $defs and refer to it as #/$defs/..."
    )


@functools.lru_cache(maxsize=512)
def _validator(schema_text: str) -> jsonschema.protocols.Validator:
    # Schemas are few and reused for every call, so compiled validators are cached by text.
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=_NO_RETRIEVAL)


@functools.lru_cache(maxsize=512)
def _compiled(schema_text: str) -> tuple[Any, tuple[str, ...]]:
    """The compiled fast validator (None when it cannot compile the schema) and the URIs its
    compilation asked to retrieve, all refused. It resolves every reference while compiling,
    which is how the Hello check finds references outside the schema."""
    schema = json.loads(schema_text)
    asked: list[str] = []

    def retrieve(uri: str) -> Any:
        asked.append(uri)
        raise ValueError(f"retrieval refused: {uri}")

    try:
        fast = jsonschema_rs.validator_for(schema, retriever=retrieve, validate_formats=False)
    except Exception:  # any refusal to compile just means no fast path
        fast = None
    return fast, tuple(asked)


def _outside_refs(schema_text: str) -> list[str]:
    """URIs the schema refers to outside itself. A ``$schema`` naming an unknown dialect is
    not one: ``jsonschema`` never fetches it (it validates with the latest draft)."""
    _, asked = _compiled(schema_text)
    schema = json.loads(schema_text)
    dialect = schema.get("$schema", "") if isinstance(schema, dict) else ""
    return [u for u in asked if u.rstrip("#") != str(dialect).rstrip("#")]


@functools.lru_cache(maxsize=512)
def _fast_validator(schema_text: str) -> Any:
    """The compiled validator for the valid-input fast path, or None: when it cannot compile
    the schema, when the schema refers outside itself, or when it uses a keyword the two
    libraries disagree on (``jsonschema`` then decides alone). Same draft rules as
    ``_validator``: the schema's ``$schema``, else 2020-12."""
    fast, asked = _compiled(schema_text)
    if fast is None or asked or _uses(json.loads(schema_text), _DISAGREE):
        return None
    return fast


def _uses(node: Any, keywords: frozenset[str]) -> bool:
    # Any key anywhere counts, even a property that happens to be named "pattern": a lost
    # fast path costs microseconds, a missed keyword a wrong answer.
    if isinstance(node, dict):
        return any(k in keywords or _uses(v, keywords) for k, v in node.items())
    if isinstance(node, list):
        return any(_uses(v, keywords) for v in node)
    return False
