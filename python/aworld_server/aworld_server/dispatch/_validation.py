"""Checks at the dispatcher's two doors: a worker's Hello, and a call's input (JSON Schema).

The server is the one place a remote call's input is checked against the handler's schema,
for workers of every SDK (the TypeScript and Go workers rely on it; the Python worker's pydantic
pass is how it builds typed arguments, not a second gate): bad input is refused before any
worker gets the call, with one field violation per error. Most inputs are valid, so a compiled
validator (``jsonschema_rs``, ~0.2 us a call against ~13 us for ``jsonschema``) answers first;
only input it refuses is walked by ``jsonschema`` for the violations, and ``jsonschema`` has
the last word (a schema the fast one cannot compile, or a refusal it cannot explain, is
decided by ``jsonschema`` alone).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema
import jsonschema_rs
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
    errors = sorted(_validator(spec.input_schema).iter_errors(value), key=lambda e: e.json_path)
    if errors:
        raise InvalidInput(
            spec.name,
            [FieldViolation(_field(e.json_path), e.message) for e in errors],
        )


def _field(json_path: str) -> str:
    # jsonschema paths look like "$", "$.city" or "$.items[0]"; violations name fields as
    # dotted paths under "input".
    return "input" + json_path.removeprefix("$")


@functools.lru_cache(maxsize=512)
def _validator(schema_text: str) -> jsonschema.protocols.Validator:
    # Schemas are few and reused for every call, so compiled validators are cached by text.
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@functools.lru_cache(maxsize=512)
def _fast_validator(schema_text: str) -> Any:
    """The compiled validator for the valid-input fast path, or None when it cannot compile
    the schema (``jsonschema`` then decides alone). Same draft rules as ``_validator``: the
    schema's ``$schema``, else 2020-12."""
    try:
        return jsonschema_rs.validator_for(json.loads(schema_text))
    except Exception:  # any refusal to compile just means no fast path
        return None
