"""Declaring handlers in Python: ``@tool``, ``@hook`` and ``@agent``.

A decorated function keeps working as a normal function and gains a ``spec`` (a
:class:`HandlerSpec` with a JSON schema derived from its type hints by pydantic) and
``invoke(arguments)``, which validates the arguments, calls the function (sync functions run in
a thread so they never block the event loop) and returns a JSON-ready result. The same
decorated function can be registered in an embedded runtime or served by a remote ``Worker``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Literal, ParamSpec, TypeVar, overload

import pydantic

from aworld_client.common import RetryPolicy
from aworld_client.handler import HandlerKind, HandlerSpec

__all__ = ["HandlerFunction", "InvalidHandlerInput", "Pending", "agent", "hook", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

# Parameters the runtime fills in itself; they never appear in the JSON schema.
_INJECTED = {"context", "ctx"}


class InvalidHandlerInput(ValueError):
    """The arguments do not match the handler's input schema. Never retried."""

    non_retryable = True

    def __init__(self, handler: str, errors: list[dict[str, Any]]) -> None:
        self.handler = handler
        self.errors = errors
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or '<input>'}: {e.get('msg', '')}"
            for e in errors
        )
        super().__init__(f"invalid input for {handler}: {summary}")


@dataclass(slots=True, frozen=True)
class Pending:
    """Returned by a handler that will finish later (a long job, a human step).

    The task waits in INPUT_REQUIRED — holding no thread — until someone calls
    ``CompleteCallback`` (or ``ProvideInput``) with this ``callback_id``; that value becomes the
    call's result. ``prompt`` says what is awaited, for whoever has to answer.
    """

    callback_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    prompt: Any = None


@dataclass(slots=True, eq=False)
class HandlerFunction(Generic[P, R]):
    """A Python function declared as a handler."""

    fn: Callable[P, R] | Callable[P, Awaitable[R]]
    spec: HandlerSpec
    _model: type[pydantic.BaseModel] = field(repr=False)
    _injected: tuple[str, ...] = ()

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R | Awaitable[R]:
        return self.fn(*args, **kwargs)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Validated keyword arguments; raises InvalidHandlerInput with pydantic's details."""
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise InvalidHandlerInput(
                self.name, [{"loc": (), "msg": "input must be a JSON object"}]
            )
        try:
            parsed = self._model.model_validate(arguments)
        except pydantic.ValidationError as error:
            raise InvalidHandlerInput(self.name, list(error.errors())) from None  # type: ignore[arg-type]
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    async def invoke(self, arguments: Any, **injected: Any) -> Any:
        """Validate ``arguments``, call the function and return a JSON-ready result.

        ``injected`` values (such as ``context``) are passed only when the function declares a
        parameter of that name.
        """
        kwargs = self.validate(arguments)
        kwargs.update({k: v for k, v in injected.items() if k in self._injected})
        if self.is_async:
            result = await self.fn(**kwargs)  # type: ignore[misc,call-arg]
        else:
            result = await asyncio.to_thread(functools.partial(self.fn, **kwargs))
        return result if isinstance(result, Pending) else to_jsonable(result)


def to_jsonable(value: Any) -> Any:
    """Turn pydantic models and dataclasses into JSON-ready values; JSON values pass through."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return _any_adapter().dump_python(value, mode="json")


@functools.cache
def _any_adapter() -> pydantic.TypeAdapter[Any]:
    # Building a TypeAdapter costs far more than using one; handlers call this on every result.
    return pydantic.TypeAdapter(Any)


def _build(
    fn: Callable[..., Any],
    kind: HandlerKind,
    name: str | None,
    description: str | None,
    *,
    idempotent: bool = False,
    timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    hook_points: Sequence[str] = (),
    version: str = "",
) -> HandlerFunction[Any, Any]:
    signature = inspect.signature(fn)
    hints = _type_hints(fn)
    fields: dict[str, Any] = {}
    injected: list[str] = []
    for param in signature.parameters.values():
        if param.name in _INJECTED:
            injected.append(param.name)
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{fn.__name__}: *args/**kwargs cannot be described by a schema")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    handler_name = name or fn.__name__
    # Hooks and agents receive a description of the occurrence (an agent: its step, with
    # observation, messages and tools) and read only the keys they declare; tools must match
    # their schema exactly.
    extra: Literal["ignore", "forbid"] = "forbid" if kind == HandlerKind.TOOL else "ignore"
    model = pydantic.create_model(
        f"{handler_name}_input", __config__=pydantic.ConfigDict(extra=extra), **fields
    )
    schema = model.model_json_schema()
    schema.pop("title", None)
    output_schema = ""
    if "return" in hints and hints["return"] is not None:
        try:
            out = pydantic.TypeAdapter(hints["return"]).json_schema()
            output_schema = json.dumps(out, separators=(",", ":"))
        except pydantic.PydanticUserError:
            output_schema = ""
    doc = inspect.getdoc(fn) or ""
    spec = HandlerSpec(
        name=handler_name,
        kind=kind,
        description=description if description is not None else doc.split("\n\n")[0],
        input_schema=json.dumps(schema, separators=(",", ":")),
        output_schema=output_schema,
        version=version,
        idempotent=idempotent,
        default_timeout=timeout,
        retry_policy=retry_policy,
        hook_points=list(hook_points),
    )
    return HandlerFunction(fn=fn, spec=spec, _model=model, _injected=tuple(injected))


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(fn)
    except (NameError, TypeError):
        return dict(getattr(fn, "__annotations__", {}))


@overload
def tool(fn: Callable[..., Any], /) -> HandlerFunction[Any, Any]: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    version: str = "",
) -> Callable[[Callable[..., Any]], HandlerFunction[Any, Any]]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    version: str = "",
) -> Any:
    """Declare a tool. The first paragraph of the docstring is its description.

    ::

        @tool
        def add(a: int, b: int) -> int:
            \"\"\"Add two integers.\"\"\"
            return a + b
    """

    def wrap(f: Callable[..., Any]) -> HandlerFunction[Any, Any]:
        return _build(
            f,
            HandlerKind.TOOL,
            name,
            description,
            idempotent=idempotent,
            timeout=timeout,
            retry_policy=retry_policy,
            version=version,
        )

    return wrap(fn) if fn is not None else wrap


def hook(
    *points: str, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], HandlerFunction[Any, Any]]:
    """Declare a hook for one or more hook points (``"before_tool_call"``, ...)."""
    if not points:
        raise TypeError("hook() needs at least one hook point")

    def wrap(f: Callable[..., Any]) -> HandlerFunction[Any, Any]:
        return _build(f, HandlerKind.HOOK, name, description, hook_points=points)

    return wrap


def agent(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """Declare a remote agent policy (``AgentSpec.remote_handler``): each step it receives
    ``{"agent", "step", "observation", "messages", "tools"}`` (declare the keys it reads) and
    returns a decision: the answer text, or ``{"content", "tool_calls": [{"name",
    "arguments"}]}`` to call tools (or hand off) first."""

    def wrap(f: Callable[..., Any]) -> HandlerFunction[Any, Any]:
        return _build(f, HandlerKind.AGENT, name, description)

    return wrap(fn) if fn is not None else wrap
