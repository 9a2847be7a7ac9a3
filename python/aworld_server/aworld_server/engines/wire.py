"""How jobs and their results travel between the control plane and engine workers.

Both are small JSON documents (UTF-8 bytes) whose task, response and failure are serialised
protobuf messages (base64), so a worker in any language can read a job: no pickled runner,
agent or client ever crosses. Engines ship them as opaque bytes (Ray arguments, Spark records).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aworld_client import Failure, TaskResponse

from aworld_server.engines.base import JobResult, TaskJob

__all__ = ["decode_job", "decode_result", "encode_job", "encode_result"]

_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_job(job: TaskJob) -> bytes:
    return json.dumps(
        {
            "v": _VERSION,
            "task_id": job.task_id,
            "task": _b64(job.task),
            "control_plane": job.control_plane,
            "token": job.token,
            "attempt": job.attempt,
            "job_id": job.job_id,
            "fresh": job.fresh,
            "trace_endpoint": job.trace_endpoint,
            "trace_service": job.trace_service,
            "session": _b64(job.session),
        }
    ).encode()


def decode_job(data: bytes) -> TaskJob:
    doc: dict[str, Any] = json.loads(data)
    if doc.get("v") != _VERSION:
        raise ValueError(f"unsupported job version {doc.get('v')!r}")
    return TaskJob(
        task_id=doc["task_id"],
        task=base64.b64decode(doc["task"]),
        control_plane=doc["control_plane"],
        token=doc.get("token", ""),
        attempt=int(doc.get("attempt", 1)),
        job_id=str(doc.get("job_id", "")),
        fresh=bool(doc.get("fresh", True)),
        trace_endpoint=str(doc.get("trace_endpoint", "")),
        trace_service=str(doc.get("trace_service", "")),
        session=base64.b64decode(doc.get("session", "")),
    )


def encode_result(result: JobResult) -> bytes:
    doc: dict[str, Any] = {"v": _VERSION, "task_id": result.task_id, "job_id": result.job_id}
    if result.response is not None:
        doc["response"] = _b64(result.response.to_bytes())
    if result.failure is not None:
        doc["failure"] = _b64(result.failure.to_bytes())
    return json.dumps(doc).encode()


def decode_result(data: bytes) -> JobResult:
    doc: dict[str, Any] = json.loads(data)
    response = doc.get("response")
    failure = doc.get("failure")
    return JobResult(
        task_id=doc["task_id"],
        job_id=str(doc.get("job_id", "")),
        response=TaskResponse.from_bytes(base64.b64decode(response)) if response else None,
        failure=Failure.from_bytes(base64.b64decode(failure)) if failure else None,
    )
