"""The append script of the Redis event store and the encoding of its argument.

One script run writes a group of append calls atomically. Its argument is one MessagePack
array (``pack``): the number of calls, then per call its counts and fields (``call_fields``).
The script checks each call before writing any of it and answers, per call, 0 or why it was
refused; it records that answer under the group's key for ten minutes, so a group sent again
after a broken connection is answered, not run twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgpack
from aworld_client import Event, Session, TaskStatusChanged, TaskSubmitted

from aworld_server.storage.sqlite import _from_us, _index_fields, _submitted_record, _to_us

__all__ = ["APPEND_SCRIPT", "call_fields", "pack"]

# KEYS: epoch, this group's outcome. ARGV: epoch, prefix, the fields as a MessagePack array:
# the number of calls, then per call its counts, fencing tokens and fields (see call_fields).
# Times travel as strings: a Lua number of microseconds since 1970 would lose digits on its
# way to Redis.
# Redis work is grouped per call: one ZCOUNT per task to look for seqs already stored (per
# event only when that finds some), one ZADD per key for the log and each index.
APPEND_SCRIPT: Final = """
local p = ARGV[2]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('AWORLD_EPOCH the epoch key does not match')
end
local done = redis.call('GET', KEYS[2])
if done then return cjson.decode(done) end  -- a retried group: it ran, say how it went
-- The fields come as one MessagePack array: one argument instead of many small ones, which
-- are what costs most to pack on the client and to parse here.
local A = cmsgpack.unpack(ARGV[3])
local function zadd_all(key, args)  -- ZADD score member ... in chunks (Lua's stack is bounded)
  for i = 1, #args, 1000 do
    redis.call('ZADD', key, unpack(args, i, math.min(i + 999, #args)))
  end
end
local calls, at, out = tonumber(A[1]), 2, {}
for c = 1, calls do
  local n_events, n_sessions, n_fences = tonumber(A[at]), tonumber(A[at + 1]), tonumber(A[at + 2])
  at = at + 3
  local fences = {}  -- task -> the writer's fencing token (a replica that holds its lease)
  for _ = 1, n_fences do
    fences[A[at]] = A[at + 1]
    at = at + 2
  end
  -- Read the call: task, seq, data, session, topic, sender, time, kind [, kind's fields].
  local events, ranges = {}, {}
  for i = 1, n_events do
    local e = {task = A[at], seq = tonumber(A[at + 1]), data = A[at + 2], session = A[at + 3],
      topic = A[at + 4], sender = A[at + 5], time = A[at + 6], kind = A[at + 7]}
    at = at + 8
    if e.kind == 'S' then
      e.status, e.name, e.rsession, e.user, e.req, e.ns =
        A[at], A[at + 1], A[at + 2], A[at + 3], A[at + 4], A[at + 5]
      at = at + 6
    elseif e.kind == 'C' then
      e.status, e.terminal = A[at], A[at + 1]
      at = at + 2
    end
    events[i] = e
    local r = ranges[e.task]
    if r then
      if e.seq < r[1] then r[1] = e.seq end
      if e.seq > r[2] then r[2] = e.seq end
    else
      ranges[e.task] = {e.seq, e.seq}
    end
  end
  -- Check the whole call before writing any of it.
  local problem, seen, subs, reqs = false, {}, {}, {}
  for task, _ in pairs(ranges) do
    -- A task leased by a replica takes writes only with the latest token: a replica that lost
    -- the lease (paused, partitioned) and writes on is refused (see runtime/leases.py).
    local current = redis.call('GET', p .. 'fence:' .. task)
    if current and current ~= fences[task] then
      problem = 'AWORLD_FENCED task ' .. task .. ' is leased with a newer fencing token'
    end
  end
  for task, r in pairs(ranges) do
    if problem then break end
    if redis.call('ZCOUNT', p .. 'log:' .. task, r[1], r[2]) > 0 then
      for _, e in ipairs(events) do
        if e.task == task and redis.call('ZCOUNT', p .. 'log:' .. task, e.seq, e.seq) > 0 then
          problem = 'an event with the same (task_id, seq) already exists'
        end
      end
    end
  end
  for _, e in ipairs(events) do
    if problem then break end
    local key = e.task .. '\\0' .. e.seq
    if seen[key] then
      problem = 'an event with the same (task_id, seq) already exists'
      break
    end
    seen[key] = true
    if e.kind == 'S' then
      if subs[e.task] or redis.call('EXISTS', p .. 'task:' .. e.task) == 1 then
        problem = 'task already submitted'
        break
      end
      subs[e.task] = true
      if e.req ~= '' then
        if reqs[e.req] or redis.call('HEXISTS', p .. 'req', e.req) == 1 then
          problem = 'request_id already used by another task'
          break
        end
        reqs[e.req] = true
      end
    end
  end
  if problem then
    table.insert(out, problem)
  else
    local adds = {}  -- key -> {score, member, ...}
    local function add(key, score, member)
      local list = adds[key]
      if not list then
        list = {}
        adds[key] = list
      end
      list[#list + 1] = score
      list[#list + 1] = member
    end
    local indexed = {}  -- index key .. task -> true: each task once per index and call
    local function index(key, task)
      local mark = key .. '\\0' .. task
      if not indexed[mark] then
        indexed[mark] = true
        add(key, 0, task)
      end
    end
    for _, e in ipairs(events) do
      add(p .. 'log:' .. e.task, e.seq, string.format('%020d', e.seq) .. ':' .. e.data)
      if e.session ~= '' then index(p .. 'ev:s:' .. e.session, e.task) end
      if e.topic ~= '' then index(p .. 'ev:t:' .. e.topic, e.task) end
      if e.sender ~= '' then index(p .. 'ev:n:' .. e.sender, e.task) end
      local record = p .. 'task:' .. e.task
      if e.kind == 'S' then
        redis.call('HSET', record, 'name', e.name, 'session_id', e.rsession, 'user_id', e.user,
          'request_id', e.req, 'status', e.status, 'created_us', e.time,
          'updated_us', e.time, 'namespace', e.ns)
        if e.req ~= '' then redis.call('HSET', p .. 'req', e.req, e.task) end
        redis.call('ZADD', p .. 'tasks', e.time, e.task)
        if e.rsession ~= '' then
          redis.call('ZADD', p .. 'tasks:s:' .. e.rsession, e.time, e.task)
        end
        if e.user ~= '' then redis.call('ZADD', p .. 'tasks:u:' .. e.user, e.time, e.task) end
        redis.call('ZADD', p .. 'tasks:n:' .. e.ns, e.time, e.task)
        redis.call('ZADD', p .. 'live', e.time, e.task)
      elseif e.kind == 'C' and redis.call('EXISTS', record) == 1 then
        redis.call('HSET', record, 'status', e.status, 'updated_us', e.time)
        if e.terminal == '1' then
          redis.call('ZREM', p .. 'live', e.task)
        else
          redis.call('ZADD', p .. 'live', redis.call('HGET', record, 'created_us'), e.task)
        end
      end
    end
    for key, list in pairs(adds) do zadd_all(key, list) end
    table.insert(out, 0)
  end
  for i = 0, n_sessions - 1 do
    local f = at + i * 6
    local id, user, created = A[f], A[f + 1], A[f + 2]
    local updated, now = A[f + 3], A[f + 4]
    local key = p .. 'session:' .. id
    local old_user = redis.call('HGET', key, 'user_id')
    if created == '' then created = redis.call('HGET', key, 'created_us') or now end
    if old_user and old_user ~= '' and old_user ~= user then
      redis.call('ZREM', p .. 'sessions:u:' .. old_user, id)
    end
    redis.call('HSET', key, 'user_id', user, 'created_us', created, 'updated_us', updated,
      'data', A[f + 5])
    redis.call('ZADD', p .. 'sessions', created, id)
    if user ~= '' then redis.call('ZADD', p .. 'sessions:u:' .. user, created, id) end
  end
  at = at + n_sessions * 6
end
redis.call('SET', KEYS[2], cjson.encode(out), 'EX', 600)
return out
"""


def call_fields(
    events: Sequence[Event],
    session: Session | None,
    now_us: int,
    fences: Mapping[str, str] | None = None,
) -> list[Any]:
    """The script's fields for one call (see ``APPEND_SCRIPT``): its counts, the writer's
    fencing token of each of its tasks that has one (``fences``), then per event eight fields
    and those of its kind (a submit's record, a status change), then its session."""
    tokens: dict[str, str] = {}
    if fences:
        for event in events:
            token = fences.get(event.task_id)
            if token is not None:
                tokens[event.task_id] = token
    out: list[Any] = [len(events), 0 if session is None else 1, len(tokens)]
    for task_id, token in tokens.items():
        out += [task_id, token]
    for event in events:
        body = event.body
        time_us = str(_to_us(event.time) if event.time is not None else now_us)
        _, topic, sender = _index_fields(event)
        base = [event.task_id, event.seq, event.to_bytes(), event.session_id, topic, sender]
        if isinstance(body, TaskSubmitted):
            r = _submitted_record(event, body, _from_us(int(time_us)))
            out += base
            out += [time_us, "S", int(r.status), r.name, r.session_id, r.user_id]
            out += [r.request_id, r.namespace]
        elif isinstance(body, TaskStatusChanged):
            terminal = "1" if body.status.is_terminal else "0"
            out += base
            out += [time_us, "C", int(body.status), terminal]
        else:
            out += base
            out += [time_us, ""]
    if (s := session) is not None:
        out += [
            s.id,
            s.user_id,
            "" if s.created_at is None else str(_to_us(s.created_at)),
            str(now_us if s.updated_at is None else _to_us(s.updated_at)),
            str(now_us),
            s.to_bytes(),
        ]
    return out


def pack(fields: list[Any]) -> bytes:
    """The script's argument. ``use_bin_type=False``: the original MessagePack format, the one
    Redis's cmsgpack reads (it rejects the newer str8/bin types); bytes and text both arrive as
    Lua strings."""
    return bytes(msgpack.packb(fields, use_bin_type=False))
