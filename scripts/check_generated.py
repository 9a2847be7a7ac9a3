"""Fail when committed generated code differs from what `make proto` would write.

Regenerates every language into a temporary directory and compares it with the working tree,
so a stale or hand-edited generated file is caught without touching the checkout.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = [
    Path("python/aworld_client/aworld_client/_proto"),
    Path("typescript/src/gen"),
    Path("go/gen"),
]


def _diff(expected: Path, actual: Path) -> list[str]:
    if not actual.exists():
        return [f"missing: {actual}"]
    problems: list[str] = []
    expected_files = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    actual_files = {
        p.relative_to(actual)
        for p in actual.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    problems += [f"stale file (not generated): {actual / p}" for p in actual_files - expected_files]
    problems += [f"missing file: {actual / p}" for p in expected_files - actual_files]
    for rel in sorted(expected_files & actual_files):
        if not filecmp.cmp(expected / rel, actual / rel, shallow=False):
            problems.append(f"differs: {actual / rel}")
    return problems


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        shutil.copytree(
            ROOT,
            out / "tree",
            ignore=shutil.ignore_patterns(
                ".venv", "node_modules", ".git", ".aworld", "__pycache__", "dist"
            ),
        )
        tree = out / "tree"
        (tree / ".venv").symlink_to(ROOT / ".venv")
        (tree / "node_modules").symlink_to(ROOT / "node_modules")
        for gen in GENERATED:
            shutil.rmtree(tree / gen, ignore_errors=True)
        subprocess.run([sys.executable, "scripts/gen_python_proto.py"], cwd=tree, check=True)
        subprocess.run([str(ROOT / "node_modules/.bin/buf"), "generate"], cwd=tree, check=True)
        problems = [p for gen in GENERATED for p in _diff(tree / gen, ROOT / gen)]
    if problems:
        print("Generated code is out of date; run `make proto` and commit the result:")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    print(f"generated code is up to date ({', '.join(map(str, GENERATED))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
