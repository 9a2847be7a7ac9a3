"""The server's input check (``dispatch._validation.check_input``): the compiled fast path and
``jsonschema`` agree, so a refusal names the same fields whichever answered first."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aworld_client import HandlerKind, HandlerSpec, Payload
from aworld_server.dispatch._validation import check_input
from aworld_server.errors import InvalidInput

# pydantic's shape for a nested model ($defs and $ref), and a draft-07 schema.
NESTED = {
    "$defs": {
        "Point": {
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "maximum": 9}},
            "required": ["x", "y"],
            "type": "object",
        }
    },
    "properties": {"at": {"$ref": "#/$defs/Point"}, "tags": {"items": {"type": "string"}}},
    "required": ["at"],
    "additionalProperties": False,
    "type": "object",
}
DRAFT7 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 2}},
    "required": ["city"],
}


def _spec(schema: dict[str, Any]) -> HandlerSpec:
    return HandlerSpec(name="t", kind=HandlerKind.TOOL, input_schema=json.dumps(schema))


def _fields(schema: dict[str, Any], value: Any) -> set[str] | None:
    try:
        check_input(_spec(schema), Payload.of(value))
    except InvalidInput as error:
        assert all(v.description for v in error.violations)
        return {v.field for v in error.violations}
    return None


@pytest.mark.parametrize(
    ("schema", "value", "fields"),
    [
        (NESTED, {"at": {"x": 1, "y": 2}, "tags": ["a"]}, None),
        (NESTED, {"at": {"x": 1, "y": 10}}, {"input.at.y"}),
        (
            NESTED,
            {"at": {"x": "1"}, "tags": [3], "z": 0},
            {"input", "input.at", "input.at.x", "input.tags[0]"},
        ),
        (DRAFT7, {"city": "Oslo"}, None),
        (DRAFT7, {"city": "O"}, {"input.city"}),
        (DRAFT7, {}, {"input"}),
    ],
)
def test_valid_input_passes_and_invalid_input_names_its_fields(
    schema: dict[str, Any], value: Any, fields: set[str] | None
) -> None:
    assert _fields(schema, value) == fields


def test_empty_input_is_checked_as_an_empty_object_and_bytes_are_refused() -> None:
    with pytest.raises(InvalidInput):
        check_input(_spec(DRAFT7), Payload())  # empty: checked as {}, "city" is required
    with pytest.raises(InvalidInput) as caught:
        check_input(_spec(DRAFT7), Payload.from_bytes_value(b"x"))
    assert [v.field for v in caught.value.violations] == ["input"]
