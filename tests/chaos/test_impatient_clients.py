"""Scenario 3 of issue #10: clients that give up. ~300 SubmitTask calls with 1-100 ms gRPC
deadlines, mixed with normal submits, while background tasks run.

Then: every task the server stored (ListTasks) reaches a terminal state on its own; a resubmit
with the request id of a stored task returns that task (and one never stored runs now); no
normal submit hangs; the background tasks are unaffected (END-STATE CHECK against the
fault-free run).

SERVER BUG this test found now and then (1 of its first 11 runs: a7954fd, CHAOS_SEED=3;
fixed at 0806485): a SubmitTask whose client gave up just before the response was sent
leaves a traceback in the server's log: grpc's own logger ``grpc._cython.cygrpc`` logs
"ERROR ExecuteBatchError raised in core by servicer method
[/aworld.runtime.v1.RuntimeService/SubmitTask]" with the traceback
(``grpc._cython.cygrpc.ExecuteBatchError: Failed "execute_batch":
(SendInitialMetadataOperation, SendMessageOperation, SendStatusFromServerOperation)``; grpc
logs instead of raising since grpc/grpc#32551). Nothing is wrong with the task (it is stored
and runs), but the END-STATE CHECK allows 0 tracebacks. A fix on the server side:
``_configure_logging`` (python/aworld_server/aworld_server/cli/serve.py:205) could filter that
record of ``grpc._cython.cygrpc`` (the client is gone; at most a debug line without exc_info).
"""

from __future__ import annotations

import asyncio
import collections
import random

import grpc
from aworld_client.api import runtime_service_pb2 as pb
from aworld_client.api import runtime_service_pb2_grpc as pb_grpc
from chaos_harness import (
    WAIT,
    Chaos,
    ChaosParams,
    Recorder,
    Reference,
    chaos_client,
    check_end_state,
    list_all_tasks,
    make_chain_tasks,
    wait_terminal,
)

IMPATIENT = 300
NORMAL = 30
BACKGROUND = 10


async def test_submits_that_give_up_affect_only_their_own_request(
    chaos: Chaos, reference: Reference
) -> None:
    rng = random.Random(303)
    background, _ = make_chain_tasks(
        ChaosParams(tasks=BACKGROUND, calls=5, seed=3031, delay_ms=(100, 200), prefix="s3-bg")
    )
    normal, _ = make_chain_tasks(
        ChaosParams(tasks=NORMAL, calls=2, seed=3032, delay_ms=(5, 20), prefix="s3-n")
    )
    impatient, _ = make_chain_tasks(
        ChaosParams(tasks=IMPATIENT, calls=1, seed=3033, delay_ms=(0, 5), prefix="s3-i")
    )
    expected = await reference.answers({**background, **normal, **impatient})
    server = chaos.new_server()
    await server.start()
    await chaos.add_worker(server)

    async with (
        chaos_client(server.address) as client,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        stub = pb_grpc.RuntimeServiceStub(channel)
        accepted = {rid: await client.submit(t, request_id=rid) for rid, t in background.items()}

        async def give_up_soon(request_id: str, timeout: float, start_after: float) -> str:
            await asyncio.sleep(start_after)  # the workload's shape: submits spread over 1.5 s
            request = pb.SubmitTaskRequest(
                request_id=request_id, task=impatient[request_id].to_proto()
            )
            try:
                response = await stub.SubmitTask(request, timeout=timeout)
            except grpc.aio.AioRpcError as error:
                return error.code().name
            answered[request_id] = response.task_id
            return "OK"

        async def submit_normally(request_id: str, start_after: float) -> str:
            await asyncio.sleep(start_after)
            try:
                async with asyncio.timeout(WAIT):
                    accepted[request_id] = await client.submit(
                        normal[request_id], request_id=request_id
                    )
            except TimeoutError:
                return "HUNG"
            return "OK"

        answered: dict[str, str] = {}
        calls = [
            give_up_soon(rid, rng.uniform(0.001, 0.1), rng.uniform(0, 1.5)) for rid in impatient
        ]
        calls += [submit_normally(rid, rng.uniform(0, 1.5)) for rid in normal]
        order = list(range(len(calls)))
        rng.shuffle(order)
        outcomes = await asyncio.gather(*(calls[i] for i in order))
        by_kind = collections.Counter(outcomes[order.index(i)] for i in range(IMPATIENT))
        normal_outcomes = collections.Counter(
            outcomes[order.index(i)] for i in range(IMPATIENT, len(calls))
        )
        print(f"s3: impatient submits {dict(by_kind)}; normal submits {dict(normal_outcomes)}")
        assert normal_outcomes == {"OK": NORMAL}, normal_outcomes  # 0 normal submits hang
        assert by_kind["DEADLINE_EXCEEDED"] > 0, by_kind  # the clients did give up

        # Every stored task reaches a terminal state by itself, before anyone resubmits.
        stored = {t.name: t.id for t in await list_all_tasks(client)}
        for request_id, task_id in answered.items():
            assert stored.get(request_id) == task_id, (request_id, task_id)
        await wait_terminal(client, stored.values(), timeout=WAIT)

        # A resubmit of a stored request returns its task; one never stored runs now.
        resubmitted = 0
        for request_id, task in impatient.items():
            task_id = await client.submit(task, request_id=request_id)
            if request_id in stored:
                assert task_id == stored[request_id], request_id
            else:
                resubmitted += 1
            accepted[request_id] = task_id
        print(
            f"s3: {len(stored) - BACKGROUND - NORMAL} impatient submits stored, "
            f"{resubmitted} only by the resubmit"
        )

        await check_end_state(
            client,
            server,
            accepted=accepted,
            expected=expected,
            recorders=[Recorder(chaos.record())],
        )
