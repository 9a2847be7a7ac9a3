"""EventStore contract, run against the SQLite store (on a real file), the memory store and the
Redis store (on a real redis-server), plus what only the SQLite store promises: group commit,
SIGKILL durability, reopening. What only the Redis store promises is in test_redis_store.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aworld_client import (
    Event,
    Message,
    MessageEmitted,
    Payload,
    Session,
    Task,
    TaskStatus,
    TaskStatusChanged,
    TaskSubmitted,
)
from aworld_server.errors import FailedPrecondition, InvalidArgument
from aworld_server.storage import (
    EventQuery,
    EventStore,
    MemoryEventStore,
    SqliteEventStore,
    TaskQuery,
)
from aworld_server.storage.redis_store import RedisEventStore
from redis_harness import RedisServer, unique_prefix

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def submitted(
    task_id: str,
    *,
    at: datetime = T0,
    session_id: str = "",
    user_id: str = "",
    request_id: str = "",
) -> Event:
    task = Task(id=task_id, name=f"name-{task_id}", session_id=session_id, user_id=user_id)
    body = TaskSubmitted(task=task, request_id=request_id)
    return Event(task_id=task_id, seq=1, time=at, session_id=session_id, body=body)


def status_changed(task_id: str, seq: int, status: TaskStatus, *, at: datetime = T0) -> Event:
    return Event(task_id=task_id, seq=seq, time=at, body=TaskStatusChanged(status=status))


def message(
    task_id: str, seq: int, *, session_id: str = "", topic: str = "", sender: str = ""
) -> Event:
    msg = Message(id=f"{task_id}/{seq}", topic=topic, sender=sender, payload=Payload(text="hi"))
    return Event(
        task_id=task_id, seq=seq, time=T0, session_id=session_id, body=MessageEmitted(message=msg)
    )


@pytest.fixture(params=["sqlite", "memory", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if request.param == "sqlite":
        s: EventStore = SqliteEventStore(tmp_path / "db" / "events.sqlite")
    elif request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        s = RedisEventStore.from_url(
            server.url, epoch_file=tmp_path / "redis-epoch.json", prefix=unique_prefix("store")
        )
    else:
        s = MemoryEventStore()
    await s.open()
    await s.open()  # idempotent
    yield s
    await s.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    s = SqliteEventStore(tmp_path / "events.sqlite")
    await s.open()
    yield s
    await s.close()


# --- contract: every store ---------------------------------------------------------------


async def test_read_returns_events_in_seq_order(store: EventStore) -> None:
    first = [submitted("t1"), message("t1", 2), message("t1", 3)]
    second = [message("t1", 4), status_changed("t1", 5, TaskStatus.RUNNING)]
    await store.append(first)
    await store.append(second, sync=True)
    await store.append([submitted("other")])

    assert await store.read("t1") == first + second
    assert [e.seq for e in await store.read("t1", after_seq=3)] == [4, 5]
    assert [e.seq for e in await store.read("t1", after_seq=1, limit=2)] == [2, 3]
    assert await store.read("t1", after_seq=5) == []
    assert await store.last_seq("t1") == 5
    assert await store.last_seq("unknown") == 0
    assert await store.read("unknown") == []


async def test_duplicate_seq_fails_only_its_own_call(store: EventStore) -> None:
    await store.append([submitted("a")])
    # The same moment: a call repeating a's seq 1 and a new task's call.
    results = await asyncio.gather(
        store.append([message("a", 2), message("a", 1)]),
        store.append([submitted("b"), message("b", 2)]),
        store.append([message("c", 1), message("c", 1)]),  # duplicate within one call
        return_exceptions=True,
    )

    assert isinstance(results[0], FailedPrecondition)
    assert results[1] is None
    assert isinstance(results[2], FailedPrecondition)
    assert [e.seq for e in await store.read("a")] == [1]  # seq 2 of the failed call not written
    assert [e.seq for e in await store.read("b")] == [1, 2]
    assert await store.read("c") == []
    assert await store.last_seq("a") == 1


async def test_task_submitted_creates_a_record_and_status_changes_update_it(
    store: EventStore,
) -> None:
    at = T0 + timedelta(minutes=1)
    await store.append([submitted("t1", session_id="s1", user_id="u1", request_id="r1")])

    record = await store.find_task_by_request_id("r1")
    assert record is not None
    assert (record.task_id, record.name, record.session_id, record.user_id) == (
        "t1",
        "name-t1",
        "s1",
        "u1",
    )
    assert (record.status, record.created_at, record.last_seq) == (TaskStatus.PENDING, T0, 1)

    await store.append([status_changed("t1", 2, TaskStatus.RUNNING, at=at)])
    record = await store.get_task("t1")
    assert record is not None
    assert (record.status, record.created_at, record.updated_at) == (TaskStatus.RUNNING, T0, at)
    assert record.last_seq == 2

    # request_id is unique: a second task with it is rejected and not recorded.
    with pytest.raises(FailedPrecondition):
        await store.append([submitted("t2", request_id="r1")])
    assert await store.get_task("t2") is None
    assert await store.read("t2") == []
    found = await store.find_task_by_request_id("r1")
    assert found is not None and found.task_id == "t1"

    assert await store.find_task_by_request_id("") is None
    assert await store.find_task_by_request_id("unknown") is None
    assert await store.get_task("unknown") is None


async def test_list_tasks_filters_and_pages_newest_first(store: EventStore) -> None:
    # Pairs of tasks share a creation time, so paging must also break ties by task id.
    for i in range(120):
        task_id = f"t{i:03}"
        events = [
            submitted(
                task_id,
                at=T0 + timedelta(seconds=i // 2),
                session_id=f"s{i % 3}",
                user_id=f"u{i % 2}",
            )
        ]
        if i % 4 == 0:
            events.append(status_changed(task_id, 2, TaskStatus.SUCCEEDED))
        await store.append(events)
    newest_first = [f"t{i:03}" for i in reversed(range(120))]

    seen: list[str] = []
    token = ""
    sizes = []
    while True:
        page = await store.list_tasks(TaskQuery(page_size=50, page_token=token))
        sizes.append(len(page.items))
        seen += [r.task_id for r in page.items]
        token = page.next_page_token
        if not token:
            break
    assert sizes == [50, 50, 20]
    assert seen == newest_first

    async def ids(query: TaskQuery) -> list[str]:
        query.page_size = 1000
        page = await store.list_tasks(query)
        assert page.next_page_token == ""
        return [r.task_id for r in page.items]

    assert await ids(TaskQuery(session_id="s1")) == [t for t in newest_first if int(t[1:]) % 3 == 1]
    assert await ids(TaskQuery(user_id="u0")) == [t for t in newest_first if int(t[1:]) % 2 == 0]
    done = [t for t in newest_first if int(t[1:]) % 4 == 0]
    assert await ids(TaskQuery(statuses=[TaskStatus.SUCCEEDED])) == done
    assert await ids(TaskQuery(statuses=[TaskStatus.PENDING, TaskStatus.FAILED])) == [
        t for t in newest_first if t not in done
    ]
    assert await ids(TaskQuery(session_id="s0", user_id="u1", statuses=[TaskStatus.PENDING])) == [
        t for t in newest_first if int(t[1:]) % 6 == 3
    ]

    with pytest.raises(InvalidArgument):
        await store.list_tasks(TaskQuery(page_token="not a token"))


async def test_live_tasks_are_the_non_terminal_ones(store: EventStore) -> None:
    await store.append([submitted("pending")])
    await store.append([submitted("running"), status_changed("running", 2, TaskStatus.RUNNING)])
    await store.append([submitted("waiting")])
    await store.append([status_changed("waiting", 2, TaskStatus.INPUT_REQUIRED)])
    for terminal in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED):
        name = terminal.name.lower()
        await store.append([submitted(name), status_changed(name, 2, terminal)])

    live = await store.live_tasks()
    assert sorted(r.task_id for r in live) == ["pending", "running", "waiting"]
    assert {r.task_id: r.status for r in live}["waiting"] == TaskStatus.INPUT_REQUIRED


async def test_query_events_by_session_topic_and_sender(store: EventStore) -> None:
    await store.append(
        [
            message("t2", 1, session_id="s1", topic="plan", sender="planner"),
            message("t2", 2, session_id="s1", topic="act", sender="actor"),
            message("t2", 3, session_id="s1"),
        ]
    )
    await store.append(
        [
            message("t1", 1, session_id="s1", topic="plan", sender="actor"),
            message("t1", 2, session_id="s2", topic="plan", sender="planner"),
        ]
    )
    await store.append([status_changed("t3", 1, TaskStatus.RUNNING)])

    async def keys(query: EventQuery) -> list[tuple[str, int]]:
        return [(e.task_id, e.seq) for e in await store.query_events(query)]

    assert await keys(EventQuery(session_id="s1")) == [("t1", 1), ("t2", 1), ("t2", 2), ("t2", 3)]
    assert await keys(EventQuery(topic="plan")) == [("t1", 1), ("t1", 2), ("t2", 1)]
    assert await keys(EventQuery(sender="actor")) == [("t1", 1), ("t2", 2)]
    assert await keys(EventQuery(topic="plan", sender="planner")) == [("t1", 2), ("t2", 1)]
    assert await keys(EventQuery(task_id="t2", topic="plan")) == [("t2", 1)]
    assert await keys(EventQuery(session_id="s1", limit=2)) == [("t1", 1), ("t2", 1)]
    assert await keys(EventQuery(topic="none")) == []
    assert len(await store.query_events(EventQuery())) == 6


async def test_sessions_put_get_list(store: EventStore) -> None:
    s1 = Session(id="s1", user_id="u1", created_at=T0, task_ids=["t1"])
    s2 = Session(id="s2", user_id="u2", created_at=T0 + timedelta(seconds=1))
    s3 = Session(id="s3", user_id="u1", created_at=T0 + timedelta(seconds=2))
    for s in (s1, s2, s3):
        await store.put_session(s)

    assert await store.get_session("s1") == s1
    assert await store.get_session("unknown") is None
    s1_replaced = Session(id="s1", user_id="u1", created_at=T0, task_ids=["t1", "t2"])
    await store.put_session(s1_replaced)
    assert await store.get_session("s1") == s1_replaced

    page = await store.list_sessions("", 2, "")
    assert [s.id for s in page.items] == ["s3", "s2"]
    rest = await store.list_sessions("", 2, page.next_page_token)
    assert ([s.id for s in rest.items], rest.next_page_token) == (["s1"], "")
    mine = await store.list_sessions("u1", 10, "")
    assert [s.id for s in mine.items] == ["s3", "s1"]


# --- SQLite only -------------------------------------------------------------------------


async def test_concurrent_appends_share_commits(sqlite_store: SqliteEventStore) -> None:
    # Every tenth call repeats an existing event: those fail alone, inside shared commits.
    await sqlite_store.append([submitted(f"t{i}") for i in range(0, 200, 10)])
    before = sqlite_store.stats.commits, sqlite_store.stats.events
    results = await asyncio.gather(
        *(sqlite_store.append([submitted(f"t{i}"), message(f"t{i}", 2)]) for i in range(200)),
        return_exceptions=True,
    )
    commits = sqlite_store.stats.commits - before[0]
    assert commits < 100, f"200 concurrent appends took {commits} commits"
    for i, result in enumerate(results):
        if i % 10 == 0:
            assert isinstance(result, FailedPrecondition)
            assert [e.seq for e in await sqlite_store.read(f"t{i}")] == [1]
        else:
            assert result is None
            assert [e.seq for e in await sqlite_store.read(f"t{i}")] == [1, 2]
    assert sqlite_store.stats.events - before[1] == 180 * 2

    # sync=True appends are flushed together too: at most one fsync per commit.
    before = sqlite_store.stats.commits, sqlite_store.stats.syncs
    synced = [sqlite_store.append([message(f"t{i}", 3)], sync=True) for i in range(200)]
    await asyncio.gather(*synced)
    commits = sqlite_store.stats.commits - before[0]
    syncs = sqlite_store.stats.syncs - before[1]
    assert 1 <= syncs == commits < 100


async def test_acknowledged_appends_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    script = Path(__file__).with_name("append_until_killed.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(path),
        "t1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    acknowledged: list[int] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        while len(acknowledged) < 300:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
            if not line:
                pytest.fail(f"writer exited early: {(await proc.stderr.read()).decode()}")
            acknowledged.append(int(line))
    finally:
        # os.kill, not proc.kill(): Popen.kill() may reap the child itself, racing asyncio's
        # child watcher (which then reports returncode 255).
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = SqliteEventStore(path)
    await store.open()
    try:
        events = await store.read("t1")
        # Every acknowledged event is there; later ones may be too (committed, not yet printed).
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert len(events) >= len(acknowledged) == acknowledged[-1]
        for e in events:
            assert isinstance(e.body, MessageEmitted) and e.body.message is not None
            assert e.body.message.payload == Payload(text=str(e.seq))
        k = acknowledged[-1]
        assert await store.read("t1", after_seq=k) == events[k:]
        assert await store.last_seq("t1") == len(events)
    finally:
        await store.close()


async def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    first = SqliteEventStore(path)
    await first.open()
    events = [submitted("t1", request_id="r1"), status_changed("t1", 2, TaskStatus.RUNNING)]
    session = Session(id="s1", user_id="u1", created_at=T0)
    # close() lets appends already queued finish first.
    pending = asyncio.gather(first.append(events[:1]), first.put_session(session))
    await asyncio.gather(pending, first.append(events[1:]), first.close())
    await first.close()  # idempotent
    with pytest.raises(FailedPrecondition):
        await first.append([message("t1", 3)])

    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    second = SqliteEventStore(path)
    await second.open()
    try:
        assert await second.read("t1") == events
        record = await second.find_task_by_request_id("r1")
        assert record is not None
        assert (record.status, record.last_seq) == (TaskStatus.RUNNING, 2)
        assert [r.task_id for r in await second.live_tasks()] == ["t1"]
        assert await second.get_session("s1") == session
        await second.append([message("t1", 3)])
        assert await second.last_seq("t1") == 3
    finally:
        await second.close()


async def test_a_later_small_append_never_settles_before_an_earlier_one(
    sqlite_store: SqliteEventStore,
) -> None:
    """A small enqueue may be committed on the caller's thread when the writer is idle; while
    an earlier append is still queued or being written, it waits its turn instead."""
    await sqlite_store.append([submitted("big"), submitted("small")])
    big = sqlite_store.enqueue([message("big", seq) for seq in range(2, 1002)])  # to the writer
    small = sqlite_store.enqueue([message("small", 2)])
    await small
    assert big.done() and big.exception() is None
    assert len(await sqlite_store.read("big")) == 1001
    # With the writer idle again, a small append is committed before enqueue returns.
    commits = sqlite_store.stats.commits
    assert sqlite_store.enqueue([message("small", 3)]).done()
    assert sqlite_store.stats.commits == commits + 1


async def test_appends_settle_in_the_order_they_were_made(sqlite_store: SqliteEventStore) -> None:
    """An fsynced append goes to the writer thread; once it is committed but before the loop
    has seen it settle, a small append must not be committed inline and settle first (the
    event manager would then see a task's events out of order, and a stream skip one)."""
    await sqlite_store.append([submitted("t")])
    settled: list[str] = []
    commits = sqlite_store.stats.commits
    first = sqlite_store.enqueue([message("t", 2)], sync=True)  # to the writer
    first.add_done_callback(lambda _: settled.append("first"))
    deadline = time.monotonic() + 10
    while sqlite_store.stats.commits == commits:  # the loop stays busy meanwhile, as a step
        assert time.monotonic() < deadline, "the writer did not commit"
        time.sleep(0.001)
    second = sqlite_store.enqueue([message("t", 3)])
    second.add_done_callback(lambda _: settled.append("second"))
    await asyncio.gather(first, second)
    await asyncio.sleep(0)  # let the done callbacks of the last one run
    assert settled == ["first", "second"]
    assert [e.seq for e in await sqlite_store.read("t")] == [1, 2, 3]


async def test_a_small_append_does_not_wait_on_the_loop_for_another_process_lock(
    sqlite_store: SqliteEventStore,
) -> None:
    """Another connection (another process on the same file) holds the write lock: a small
    append goes to the writer thread, which waits for the lock, instead of blocking the
    event loop; it is written once the lock is released."""
    await sqlite_store.append([submitted("t")])
    other = sqlite3.connect(sqlite_store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        pending = sqlite_store.enqueue([message("t", 2)])
        assert not pending.done()  # inline, it would have waited out the lock and failed
        other.execute("ROLLBACK")
        await asyncio.wait_for(pending, 10)
    finally:
        other.close()
    assert [e.seq for e in await sqlite_store.read("t")] == [1, 2]


async def test_the_wal_is_checkpointed_by_the_writer_when_commits_are_inline(
    sqlite_store: SqliteEventStore,
) -> None:
    """Small appends committed on the caller's thread never reach the writer; the WAL is
    still checkpointed (by the writer, off the event loop), so it does not grow unbounded."""
    await sqlite_store.append([submitted("t")])
    inline = 0
    for seq in range(2, 1202):
        done = sqlite_store.enqueue([message("t", seq)])
        inline += done.done()  # committed inline: the writer had nothing to do
        await done
    assert inline >= 1100  # the rest queued behind a checkpoint request
    await sqlite_store.append([message("t", 1202)])  # queued behind any checkpoint request
    assert sqlite_store.stats.checkpoints >= 4
    assert len(await sqlite_store.read("t")) == 1202
