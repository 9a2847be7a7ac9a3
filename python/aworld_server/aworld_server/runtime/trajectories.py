"""``TrajectoryExport``: a task's trajectory for its runner (reward hooks read it) and, with a
directory, each finished task's trajectory as a JSONL file (one line per agent step, the shape
``aworld tasks trajectory`` prints) for training pipelines that read files;
``TaskResponse.trajectory_uri`` names the file."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aworld_client import TrajectoryItem

from aworld_server.runtime.reader import TaskReader
from aworld_server.trajectory import iter_jsonl

__all__ = ["TrajectoryExport"]

log = logging.getLogger(__name__)


class TrajectoryExport:
    """Reads trajectories; writes ``<directory>/<task id>.jsonl`` when given a directory."""

    def __init__(self, reader: TaskReader, directory: Path | None = None) -> None:
        self._reader = reader
        self.directory = directory

    async def read(self, task_id: str) -> list[TrajectoryItem]:
        return await self._reader.trajectory(task_id)

    async def export(self, task_id: str) -> str:
        """Write the task's trajectory so far; return its file URI ("" without a directory, or
        if it could not be written: the task's own outcome never depends on the export)."""
        if self.directory is None:
            return ""
        items = await self._reader.trajectory(task_id)
        path = self.directory / f"{task_id}.jsonl"
        text = "".join(line + "\n" for line in iter_jsonl(items))
        try:
            await asyncio.to_thread(_write, path, text)
        except OSError:
            log.warning("could not write the trajectory of task %s to %s", task_id, path)
            return ""
        return path.resolve().as_uri()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".jsonl.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)  # readers never see half a file
