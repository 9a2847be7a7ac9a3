"""Conformance runner for the Python SDK (see ``conformance/README.md``).

Usage::

    .venv/bin/python conformance/runners/python_runner.py --address HOST:PORT SCENARIO.json...

For each scenario, in order: serve its handlers with a :class:`aworld_client.Worker`, wait
until the server lists them, submit its task with :class:`aworld_client.AsyncClient`, follow
the task's events to the terminal one (performing the scenario's actions when their event
arrives), stop the worker, and print one JSON line ``{"scenario": NAME, "events": [...]}``
with the scrubbed event log. Diagnostics go to stderr; the exit status is 0 only when every
scenario reached a terminal event.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aworld_client import AsyncClient, Task, Worker
from aworld_client.handlers import HandlerFunction, Pending, hook, tool
from aworld_client.worker_service import Call
from google.protobuf import json_format

SCENARIO_TIMEOUT = 30.0
_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict[str, Any],
    "array": list[Any],
}


# --- scrubbing (the rule in conformance/README.md) ---------------------------------------------

_TIME_KEYS = re.compile(r"^(time|deadline|.*At)$")
_DURATION_KEYS = frozenset({"duration", "timeCost"})
_ID_KEYS = re.compile(r"^(id|.*Id|.*_id)$")
_DROPPED_KEYS = frozenset({"stackTrace"})
_MIN_EMBEDDED_ID = 8


def _decode_payloads(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _decode_payloads(v) for k, v in value.items()}
        if isinstance(out.get("json"), str):
            out["json"] = _decode_payloads(json.loads(out["json"]))
        return out
    if isinstance(value, list):
        return [_decode_payloads(v) for v in value]
    return value


def _collect_ids(value: Any, ids: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if isinstance(item, str) and item and _ID_KEYS.match(key) and item not in ids:
                ids[item] = f"<id:{len(ids) + 1}>"
            _collect_ids(item, ids)
    elif isinstance(value, list):
        for item in value:
            _collect_ids(item, ids)


def _replace(value: Any, ids: dict[str, str], embedded: list[str]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _DROPPED_KEYS:
                continue
            if _TIME_KEYS.match(key) and isinstance(item, str):
                out[key] = "<time>"
            elif key in _DURATION_KEYS and isinstance(item, str):
                out[key] = "<duration>"
            elif key == "source" and isinstance(item, str) and item.startswith("worker:"):
                out[key] = "worker:<worker>"
            else:
                out[key] = _replace(item, ids, embedded)
        return out
    if isinstance(value, list):
        return [_replace(item, ids, embedded) for item in value]
    if isinstance(value, str):
        if value in ids:
            return ids[value]
        for raw in embedded:
            if raw in value:
                value = value.replace(raw, ids[raw])
        return value
    return value


def scrub(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical proto JSON events -> the scrubbed log that every SDK must produce."""
    decoded = [_decode_payloads(event) for event in events]
    ids: dict[str, str] = {}
    _collect_ids(decoded, ids)
    embedded = sorted((i for i in ids if len(i) >= _MIN_EMBEDDED_ID), key=len, reverse=True)
    return [_replace(event, ids, embedded) for event in decoded]


# --- the scenario's handlers, served by the Python SDK -----------------------------------------


def _encode_payloads(value: Any) -> Any:
    """Spec shorthand: ``{"json": <non-string>}`` is a Payload holding that value's JSON text."""
    if isinstance(value, dict):
        out = {k: _encode_payloads(v) for k, v in value.items()}
        if "json" in out and not isinstance(out["json"], str):
            out["json"] = json.dumps(value["json"])
        return out
    if isinstance(value, list):
        return [_encode_payloads(v) for v in value]
    return value


class ScenarioError(Exception):
    """Raised by a scripted handler; its class name becomes the failure type."""


def _error(spec: dict[str, Any]) -> Exception:
    # The failure type is the exception's class name, as for any Python handler.
    cls = type(spec["type"], (ScenarioError,), {"non_retryable": spec.get("non_retryable", False)})
    return cls(spec.get("message", ""))


async def _behave(behaviour: dict[str, Any], call: Call) -> Any:
    failure = behaviour.get("raise")
    if failure is not None and call.attempt in behaviour.get("raise_on_attempts", [call.attempt]):
        raise _error(failure)
    if "pending" in behaviour:
        return Pending(callback_id=behaviour["pending"]["callback_id"])
    if behaviour.get("block"):
        await asyncio.Event().wait()  # until the server cancels the call
    return behaviour.get("return")


def _handler(spec: dict[str, Any]) -> HandlerFunction[Any, Any]:
    """A handler declared by the spec: its parameters come from the spec's input schema."""
    behaviour = spec.get("behaviour", {})

    async def run(context: Call, **arguments: Any) -> Any:
        return await _behave(behaviour, context)

    schema = spec.get("input_schema", {})
    required = set(schema.get("required", []))
    parameters = [inspect.Parameter("context", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        annotations[name] = _PYTHON_TYPES[prop.get("type", "object")]
        default = inspect.Parameter.empty if name in required else None
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=annotations[name],
            )
        )
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = annotations
    description = spec.get("description", "")
    if spec["kind"] == "hook":
        return hook(*spec["hook_points"], name=spec["name"], description=description)(run)
    if spec["kind"] == "tool":
        return tool(name=spec["name"], description=description,
                    idempotent=spec.get("idempotent", False))(run)  # fmt: skip
    raise ValueError(f"unknown handler kind {spec['kind']!r}")


# --- running a scenario -------------------------------------------------------------------------


def parse_task(spec: dict[str, Any]) -> Task:
    message = Task().to_proto()
    json_format.ParseDict(_encode_payloads(spec), message)
    return Task.from_proto(message)


async def _wait_for_workers(client: AsyncClient, names: list[str]) -> None:
    for name in names:
        while not await client.workers(name):
            await asyncio.sleep(0.02)


async def run_scenario(address: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    worker = Worker(address, [_handler(h) for h in spec["handlers"]])
    serving = asyncio.create_task(worker.run())
    events: list[dict[str, Any]] = []
    try:
        async with AsyncClient(address) as client, asyncio.timeout(SCENARIO_TIMEOUT):
            await _wait_for_workers(client, [h["name"] for h in spec["handlers"]])
            task_id = await client.submit(parse_task(spec["task"]))
            actions = list(spec.get("actions", []))
            async for event in client.events(task_id):
                record = json_format.MessageToDict(event.to_proto())
                events.append(record)
                for action in [a for a in actions if a["on"] in record]:
                    actions.remove(action)
                    await _perform(client, task_id, action, record[action["on"]])
    finally:
        await worker.stop()
        await serving
    return events


async def _perform(client: AsyncClient, task_id: str, action: dict[str, Any],
                   body: dict[str, Any]) -> None:  # fmt: skip
    if action["do"] == "cancel":
        await client.cancel(task_id, reason=action.get("reason", ""))
    elif action["do"] == "complete_callback":
        await client.complete_callback(task_id, body["callbackId"], action.get("result"))
    else:
        raise ValueError(f"unknown action {action['do']!r}")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("scenarios", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.scenarios:
        spec = json.loads(path.read_text())
        events = await run_scenario(args.address, spec)
        print(json.dumps({"scenario": spec["name"], "events": scrub(events)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
