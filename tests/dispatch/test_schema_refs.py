"""A worker's input schema may not make the server fetch anything: a ``$ref`` to ``http://``
or ``file://`` is refused (at the Hello, INVALID_ARGUMENT naming the schema; at a call, for a
spec that never went through a Hello), and no request is sent, no file read. References inside
the schema keep working."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from aworld_client import HandlerKind, HandlerSpec, Payload
from aworld_client.api import worker_service_pb2_grpc
from aworld_client.worker_service import ConnectRequest, ConnectResponse, Hello
from aworld_server.dispatch._validation import _fast_validator, _validator, check_hello, check_input
from aworld_server.errors import InvalidArgument, InvalidInput
from dispatch_harness import Server

# What the lures would serve: a schema that only accepts integers. Had the server fetched or
# read it, {"a": 1} would pass and {"a": "x"} would be refused for "input.a".
INTEGER = {"type": "integer"}


class _Lure:
    """An HTTP server on 127.0.0.1 (port from the OS) that counts the requests it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        lure = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                lure.requests.append(self.path)
                body = json.dumps(INTEGER).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def lure() -> Iterator[_Lure]:
    server = _Lure()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "integer.json"
    path.write_text(json.dumps(INTEGER))
    return path


def _schema(ref: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"a": {"$ref": ref}}}


def _spec(schema: dict[str, Any], name: str = "t") -> HandlerSpec:
    return HandlerSpec(name=name, kind=HandlerKind.TOOL, input_schema=json.dumps(schema))


async def _hello(target: str, spec: HandlerSpec) -> list[ConnectResponse]:
    async with grpc.aio.insecure_channel(target) as channel:
        call = worker_service_pb2_grpc.WorkerServiceStub(channel).Connect()
        await call.write(ConnectRequest(kind=Hello(handlers=[spec], sdk="raw/0")).to_proto())
        await call.done_writing()
        return [ConnectResponse.from_proto(m) async for m in call]


def _refs(lure: _Lure, schema_file: Path) -> list[str]:
    return [f"{lure.url}/integer.json", schema_file.as_uri()]


async def test_hello_with_a_remote_or_file_ref_is_refused_and_nothing_is_fetched(
    server: Server, lure: _Lure, schema_file: Path
) -> None:
    for ref in _refs(lure, schema_file):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _hello(server.target, _spec(_schema(ref), name="t"))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = caught.value.details() or ""
        assert "handlers[0].input_schema" in details
        assert ref in details and "refused" in details
        assert server.dispatcher.workers() == []
    assert lure.requests == []
    # A refused Hello claimed nothing: the name is free for a worker with another schema.
    welcomed = await _hello(server.target, _spec({"type": "object"}, name="t"))
    assert welcomed and welcomed[0].kind is not None
    assert type(welcomed[0].kind).__name__ == "Welcome"


@pytest.mark.parametrize("which", [0, 1], ids=["http", "file"])
def test_a_call_on_a_schema_with_an_outside_ref_is_refused_by_both_libraries(
    lure: _Lure, schema_file: Path, which: int
) -> None:
    ref = _refs(lure, schema_file)[which]
    text = json.dumps(_schema(ref))
    with pytest.raises(InvalidArgument) as hello:
        check_hello(Hello(handlers=[_spec(_schema(ref))], sdk="raw/0"))
    assert [v.field for v in hello.value.violations] == ["handlers[0].input_schema"]
    # A spec that never went through a Hello: the fast path is off (its compile asked for
    # the ref and was refused), and jsonschema refuses to resolve it, with the schema named.
    assert _fast_validator(text) is None
    for value in ({"a": 1}, {"a": "x"}):
        with pytest.raises(InvalidInput) as call:
            check_input(_spec(_schema(ref)), Payload.of(value))
        [violation] = call.value.violations
        assert violation.field == "input_schema"
        assert ref in violation.description
    # Resolving it through jsonschema directly fails too: the content was never read.
    with pytest.raises(Exception, match="Unresolvable"):
        _validator(text).is_valid({"a": 1})
    assert lure.requests == []


def test_local_refs_still_resolve_without_fetching(lure: _Lure) -> None:
    defs = {"$defs": {"n": INTEGER}, "type": "object", "properties": {"a": {"$ref": "#/$defs/n"}}}
    definitions = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"n": INTEGER},
        "type": "object",
        "properties": {"a": {"$ref": "#/definitions/n"}},
    }
    # A resource embedded with its own $id on the lure's address: found inside the schema.
    embedded = {
        "$id": f"{lure.url}/root.json",
        "$defs": {"n": {"$id": f"{lure.url}/n.json", **INTEGER}},
        "type": "object",
        "properties": {"a": {"$ref": "n.json"}},
    }
    for schema in (defs, definitions, embedded):
        check_hello(Hello(handlers=[_spec(schema)], sdk="raw/0"))
        assert _fast_validator(json.dumps(schema)) is not None
        check_input(_spec(schema), Payload.of({"a": 1}))
        with pytest.raises(InvalidInput) as caught:
            check_input(_spec(schema), Payload.of({"a": "x"}))
        assert [v.field for v in caught.value.violations] == ["input.a"]
    assert lure.requests == []
