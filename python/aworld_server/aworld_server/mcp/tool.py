"""An MCP server's tool as a runtime tool: a ``HandlerSpec`` built from what the server lists,
and ``invoke`` — one attempt, through the server's connection — so the runtime calls it like
any in-process tool (recorded, retried, cancelled, traced by the tool-call path).

Names: the runtime name is ``server.prefix + tool name`` (default ``<server>__<tool>``) with
characters outside ``[A-Za-z0-9_-]`` replaced by ``_``, as model function names require.

Outputs: ``structuredContent`` when the tool returns it (it matches the listed output schema),
else the text of its content blocks (joined by newlines), else the blocks themselves as JSON
(images, resources).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
from aworld_client import HandlerKind, HandlerSpec
from aworld_client.handlers import InvalidHandlerInput
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, Tool

from aworld_server.config import McpServer
from aworld_server.mcp.connection import ConnectionLost, McpConnection
from aworld_server.mcp.errors import McpProtocolError, McpServerLost, McpToolError

__all__ = ["McpTool", "runtime_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def runtime_name(server: McpServer, tool: str) -> str:
    return _UNSAFE.sub("_", server.prefix + tool)


class McpTool:
    """One tool of one MCP server, registered in the ``HandlerRegistry`` under ``name``."""

    def __init__(self, server: McpServer, tool: Tool, connection: McpConnection) -> None:
        self.server = server
        self.tool = tool
        self.connection = connection
        self.spec = _spec(server, tool)
        self._validator = _validator(tool.input_schema)

    @property
    def name(self) -> str:
        return self.spec.name

    async def invoke(self, arguments: Any, **injected: Any) -> Any:
        """One attempt: validate against the listed schema, call, convert the result."""
        arguments = {} if arguments is None else arguments
        self._validate(arguments)
        try:
            result = await self.connection.call(self.tool.name, arguments)
        except ConnectionLost as error:
            raise McpServerLost(
                self.server.name, self.tool.name, error.reason, idempotent=self.spec.idempotent
            ) from error
        except MCPError as error:
            raise McpProtocolError(self.name, error.code, error.message) from error
        if result.is_error:
            raise McpToolError(self.name, _text(result), retryable=self.server.retry_tool_errors)
        return output_of(result)

    def _validate(self, arguments: Any) -> None:
        if not isinstance(arguments, dict):
            raise InvalidHandlerInput(
                self.name, [{"loc": (), "msg": "input must be a JSON object"}]
            )
        if self._validator is None:
            return
        try:
            errors = sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.path))
        except referencing.exceptions.Unresolvable as error:
            raise InvalidHandlerInput(
                self.name,
                [{"loc": (), "msg": f"input schema $ref {error.ref!r} refused: not fetched"}],
            ) from error
        if errors:
            raise InvalidHandlerInput(
                self.name, [{"loc": tuple(e.path), "msg": e.message} for e in errors]
            )


def output_of(result: CallToolResult) -> Any:
    """The tool's output as a JSON value (see the module docstring)."""
    if result.structured_content is not None:
        return result.structured_content
    blocks = [
        block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content
    ]
    if all(block.get("type") == "text" for block in blocks):
        return "\n".join(str(block.get("text", "")) for block in blocks)
    return blocks


def _text(result: CallToolResult) -> str:
    output = output_of(result)
    return output if isinstance(output, str) else json.dumps(output)


def _spec(server: McpServer, tool: Tool) -> HandlerSpec:
    annotations = tool.annotations
    idempotent = (
        server.idempotent
        if server.idempotent is not None
        else bool(annotations and (annotations.idempotent_hint or annotations.read_only_hint))
    )
    return HandlerSpec(
        name=runtime_name(server, tool.name),
        kind=HandlerKind.TOOL,
        description=tool.description
        or tool.title
        or (annotations.title if annotations else "")
        or "",
        input_schema=json.dumps(tool.input_schema, separators=(",", ":")),
        output_schema=json.dumps(tool.output_schema, separators=(",", ":"))
        if tool.output_schema
        else "",
        idempotent=idempotent,
        default_timeout=timedelta(seconds=server.tool_timeout) if server.tool_timeout else None,
    )


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator | None:
    """A validator for the listed input schema; None if the schema itself is invalid (the
    server then judges the arguments alone)."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return None
    # The schema comes from the MCP server: a $ref to http:// or file:// is refused, never
    # fetched or read (the server would otherwise send requests or read local files).
    registry = referencing.Registry(retrieve=_refuse)  # type: ignore[call-arg]
    return cls(schema, registry=registry)


def _refuse(uri: str) -> referencing.Resource[Any]:
    # referencing builds its classes with attrs in a way mypy cannot see through.
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]
