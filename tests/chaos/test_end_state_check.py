"""The END-STATE CHECK itself can fail: fed a wrong answer, a duplicated request, a re-run
the kills do not explain and an idempotency key that is not ``<task_id>/<call_id>``, it
reports each (checked on the fault-free reference server, so nothing else is wrong)."""

from __future__ import annotations

import time

from chaos_harness import (
    Chaos,
    KillRecord,
    Recorder,
    Reference,
    chain_answer,
    chain_task,
    chaos_client,
    check_end_state,
    wait_terminal,
)


async def test_the_end_state_check_reports_what_is_wrong(
    chaos: Chaos, reference: Reference
) -> None:
    name = f"check-{time.time_ns()}"
    async with chaos_client(reference.server.address) as client:
        # Two tasks stored for one request id (the name), as a broken dedupe would leave.
        first = await client.submit(chain_task(name, 5, calls=1), request_id=f"{name}-a")
        await client.submit(chain_task(name, 5, calls=1), request_id=f"{name}-b")
        await wait_terminal(client, [first])
        events = [e async for e in client.events(first, follow=False)]
        call_id = next(e.body.call_id for e in events if type(e.body).__name__ == "ToolCallStarted")
        # The worker's record, as if the call had run twice, once with a wrong key.
        record = chaos.record("fake")
        record.write_text(
            f"start {first}/{call_id} {first}/{call_id} 1 1 1.0\n"
            f"start wrong-key {first}/{call_id} 1 1 2.0\n"
        )
        state = await check_end_state(
            client,
            reference.server,
            accepted={name: first},
            expected={name: chain_answer(6, calls=1)},  # not the answer of seed 5
            recorders=[Recorder(record)],
            kills=[KillRecord(0.5, set())],  # a kill with nothing in flight
            assert_ok=False,
        )

    text = "\n".join(state.problems)
    assert state.wrong_answers == 1 and "!= fault-free" in text, text
    assert state.duplicates == 1 and f"request {name}: 2 task(s) stored" in text, text
    assert state.re_executions == 1 and "re-executions > 0 calls in flight" in text, text
    assert "idempotency key 'wrong-key'" in text, text
    assert state.completed == 1 and state.lost == 0
