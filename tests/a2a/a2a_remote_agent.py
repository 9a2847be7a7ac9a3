"""A remote A2A agent built with the ``a2a-sdk`` alone, started by the tests as a subprocess.

It answers ``<name> says: <text>`` as a task with one artifact, streaming or not. Flags:

- ``--fail-first N``: the first N JSON-RPC requests get HTTP 503 (an overloaded server);
- ``--mode fail``: every task ends failed (the agent's own failure, not the network's);
- ``--mode ask``: every task asks for input (input-required), which a swarm step cannot give;
- ``--mode slow``: every task sends the artifact chunk ``thinking``, then works until
  cancelled, printing ``working TASK`` when it starts and ``cancelled TASK`` when cancelled.

It binds 127.0.0.1 on a free port and prints ``listening PORT`` once it accepts connections,
then ``request N`` for every JSON-RPC request it receives.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys

from a2a.helpers import new_task_from_user_message, new_text_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
)
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class Echo(AgentExecutor):
    def __init__(self, name: str, mode: str) -> None:
        self.name = name
        self.mode = mode

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None
        task = context.current_task or new_task_from_user_message(context.message)
        await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work()
        text = context.get_user_input()
        if self.mode == "fail":
            await updater.failed(new_text_message(f"{self.name} cannot do {text!r}"))
            return
        if self.mode == "slow":
            await updater.add_artifact([new_text_part("thinking")], name="reply")
            print(f"working {task.id}", flush=True)
            await asyncio.Event().wait()  # until the request handler cancels this execution
        if self.mode == "ask":
            await updater.requires_input(new_text_message("which one?"))
            return
        await updater.add_artifact([new_text_part(f"{self.name} says: {text}")], name="reply")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id is not None and context.context_id is not None
        print(f"cancelled {context.task_id}", flush=True)
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


class Overloaded:
    """HTTP 503 for the first ``n`` JSON-RPC requests; counts every request on stdout."""

    def __init__(self, app: ASGIApp, n: int) -> None:
        self.app = app
        self.left = n
        self.seen = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            self.seen += 1
            print(f"request {self.seen}", flush=True)
            if self.left > 0:
                self.left -= 1
                await JSONResponse({"error": "overloaded"}, 503)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="remote")
    parser.add_argument("--mode", choices=["echo", "fail", "ask", "slow"], default="echo")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--no-streaming", action="store_true")
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    card = AgentCard(
        name=args.name,
        description=f"An echo agent called {args.name}",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(
                url=f"http://127.0.0.1:{port}/", protocol_binding="JSONRPC", protocol_version="1.0"
            )
        ],
        capabilities=AgentCapabilities(streaming=not args.no_streaming),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="echo", name="echo", description="Echoes", tags=["echo"])],
    )
    handler = DefaultRequestHandler(
        agent_executor=Echo(args.name, args.mode), task_store=InMemoryTaskStore(), agent_card=card
    )
    app = Starlette(
        routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, rpc_url="/")]
    )
    sock.listen(64)
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    print(f"listening {port}", flush=True)  # connections queue on the socket from now on
    await serve(Overloaded(app, args.fail_first), config)  # until SIGTERM or SIGINT


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
