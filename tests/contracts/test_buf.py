"""The contracts lint clean, and buf catches a breaking change."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

BUF = "node_modules/.bin/buf"


def _buf(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / BUF), *args], cwd=cwd or root, capture_output=True, text=True, timeout=120
    )


def test_buf_lint_passes(repo_root: Path) -> None:
    result = _buf(repo_root, "lint")
    assert result.returncode == 0, result.stdout + result.stderr


def _copy_module(repo_root: Path, dest: Path) -> Path:
    shutil.copytree(repo_root / "proto", dest / "proto")
    shutil.copy(repo_root / "buf.yaml", dest / "buf.yaml")
    return dest


def test_unchanged_copy_is_not_breaking(repo_root: Path, tmp_path: Path) -> None:
    copy = _copy_module(repo_root, tmp_path)
    result = _buf(repo_root, "breaking", str(copy), "--against", str(repo_root), cwd=copy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_removing_a_field_is_breaking(repo_root: Path, tmp_path: Path) -> None:
    copy = _copy_module(repo_root, tmp_path)
    task_proto = copy / "proto/aworld/runtime/v1/task.proto"
    text = task_proto.read_text()
    without_priority = re.sub(r"\n  // Scheduling priority[^\n]*\n  int32 priority = 12;", "", text)
    assert without_priority != text, "the field to remove was not found"
    task_proto.write_text(without_priority)

    result = _buf(repo_root, "breaking", str(copy), "--against", str(repo_root), cwd=copy)

    assert result.returncode != 0
    assert 'Previously present field "12" with name "priority" on message "Task" was deleted' in (
        result.stdout + result.stderr
    )
