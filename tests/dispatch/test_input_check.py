"""The server's input check (``dispatch._validation.check_input``): the compiled fast path and
``jsonschema`` agree, so a refusal names the same fields whichever answered first."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from aworld_client import HandlerKind, HandlerSpec, Payload
from aworld_server.dispatch._validation import _fast_validator, check_input
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


# Where jsonschema_rs and jsonschema disagree (rs says valid, jsonschema not): exact decimal
# multipleOf against float division, ECMA regex classes against Python's re. The nested ones
# show the keyword is found wherever it sits.
DISAGREEING = [
    ({"type": "number", "multipleOf": 0.1}, 0.3),
    ({"type": "number", "multipleOf": 0.01}, 4.35),
    ({"type": "string", "pattern": "^\\s$"}, "\ufeff"),
    ({"type": "string", "pattern": "^\\S$"}, "\x1c"),
    ({"type": "object", "properties": {"n": {"items": {"multipleOf": 0.1}}}}, {"n": [0.3]}),
    ({"type": "object", "patternProperties": {"^\\S$": {"type": "integer"}}}, {"\x1c": "x"}),
    ({"type": "object", "propertyNames": {"pattern": "^\\s$"}}, {"\ufeff": 1}),
]


@pytest.mark.parametrize(("schema", "value"), DISAGREEING)
def test_where_the_libraries_disagree_the_answer_is_jsonschemas(
    schema: dict[str, Any], value: Any
) -> None:
    alone = jsonschema.validators.validator_for(schema)(schema).is_valid(value)
    assert (_fields(schema, value) is None) == alone
    assert _fast_validator(json.dumps(schema)) is None


def test_a_schema_without_those_keywords_takes_the_fast_path() -> None:
    # format is an annotation for both (jsonschema checks no format), so it keeps the fast
    # path: a draft-07 "email" that is not one is accepted, as jsonschema alone accepts it.
    email = {"$schema": "http://json-schema.org/draft-07/schema#", "format": "email"}
    for schema in (NESTED, DRAFT7, email):
        fast = _fast_validator(json.dumps(schema))
        assert fast is not None
    assert _fields(email, "not an address") is None
    assert _fast_validator(json.dumps(email)).is_valid("not an address")
