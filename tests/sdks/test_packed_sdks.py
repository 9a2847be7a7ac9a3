"""Each SDK as a user receives it: the packed artefact (wheel, npm tarball, Go module from a
module proxy) installed into a scratch project outside the repository, whose worker and client
are the README's examples, run against a real ``aworld serve``.

The client prints the answer of a task whose scripted agent calls the worker's ``word_count``
tool; its whole output must be that answer (no warnings, e.g. asyncio's "Task was destroyed but
it is pending!"), and the worker must stop cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import re
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aworld_client import Client, ToolCallStarted
from sdk_harness import (
    GO_MODULE,
    GO_VERSION,
    ROOT,
    Program,
    build_go_proxy,
    readme_blocks,
    run,
    start_server,
    wait_for_worker,
)

ANSWER = "4 words"


@dataclass
class Scratch:
    """A scratch project: how to start its worker and run its client."""

    directory: Path
    worker: list[str]
    client: list[str]
    env: dict[str, str]


def _env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no repository virtualenv, no AWORLD settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWORLD_", "PYTHON", "VIRTUAL_ENV", "NODE_", "npm_"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artefacts")


@pytest.fixture(scope="module")
def python_project(artefacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--wheel-dir",
        artefacts,
        ROOT / "python" / "aworld_client",
        cwd=artefacts,
    )
    (wheel,) = artefacts.glob("aworld_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        assert "## A worker" in archive.read(metadata).decode(), "the wheel lacks the README"
    project = tmp_path_factory.mktemp("python-project")
    run(sys.executable, "-m", "venv", project / "venv", cwd=project)
    python = project / "venv" / "bin" / "python"
    run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        wheel,
        cwd=project,
        env=_env(),
    )
    worker, client = readme_blocks(ROOT / "python" / "aworld_client" / "README.md", "python")
    (project / "worker.py").write_text(worker)
    (project / "client.py").write_text(client)
    return Scratch(project, [str(python), "worker.py"], [str(python), "client.py"], _env())


@pytest.fixture(scope="module")
def typescript_project(artefacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    # A fresh checkout has no dist/: `npm pack` must build it (prepack).
    run("npm", "pack", "--silent", "--pack-destination", artefacts, cwd=ROOT / "typescript")
    (tarball,) = artefacts.glob("aworld-runtime-sdk-*.tgz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "package/dist/index.js" in names and "package/dist/index.d.ts" in names, names
    project = tmp_path_factory.mktemp("typescript-project")
    (project / "package.json").write_text('{"name": "scratch", "private": true, "type": "module"}')
    (project / "tsconfig.json").write_text(
        '{"compilerOptions": {"target": "ES2022", "module": "NodeNext", "strict": true,'
        ' "skipLibCheck": true, "outDir": "build"}, "include": ["*.ts"]}'
    )
    run(
        "npm",
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--loglevel=error",
        tarball,
        "@bufbuild/protobuf@^2.7.0",
        "typescript@5.9.3",
        "@types/node@20.9.5",
        cwd=project,
        env=_env(),
    )
    worker, client = readme_blocks(ROOT / "typescript" / "README.md", "ts")
    (project / "worker.ts").write_text(worker)
    (project / "client.ts").write_text(client)
    run(project / "node_modules" / ".bin" / "tsc", "-p", ".", cwd=project, env=_env())
    node = "node"
    return Scratch(project, [node, "build/worker.js"], [node, "build/client.js"], _env())


@pytest.fixture(scope="module")
def go_project(artefacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    proxy = artefacts / "goproxy"
    build_go_proxy(proxy)
    project = tmp_path_factory.mktemp("go-project")
    # An older `go` line than the toolchain's: the module must not force an upgrade.
    (project / "go.mod").write_text("module scratch\n\ngo 1.23\n")
    worker, client = readme_blocks(ROOT / "go" / "README.md", "go")
    for name, source in (("worker", worker), ("client", client)):
        (project / name).mkdir()
        (project / name / "main.go").write_text(source)
    env = _env(
        # What `go get` does against proxy.golang.org once the go/vX.Y.Z tag is published.
        GOPROXY=f"file://{proxy},https://proxy.golang.org",
        GONOSUMDB=GO_MODULE,
        GOTOOLCHAIN="local",
    )
    run("go", "get", f"{GO_MODULE}@{GO_VERSION}", cwd=project, env=env)
    run("go", "mod", "tidy", cwd=project, env=env)
    assert re.search(r"^go 1\.23(\.0)?$", (project / "go.mod").read_text(), re.M), (
        "the module raised the consumer's go version:\n" + (project / "go.mod").read_text()
    )
    run("go", "build", "-o", "bin/", "./...", cwd=project, env=env)
    return Scratch(
        project, [str(project / "bin" / "worker")], [str(project / "bin" / "client")], env
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    process, address = start_server(tmp_path / "server")
    try:
        yield address
    finally:
        process.stop()


@pytest.mark.parametrize("language", ["python", "typescript", "go"])
def test_the_readme_worker_and_client_run_from_the_packed_sdk(
    language: str, server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    project: Scratch = request.getfixturevalue(f"{language}_project")
    env = {**project.env, "AWORLD_ADDRESS": server}
    worker = Program.start(
        *project.worker, cwd=project.directory, env=env, log=tmp_path / "worker.log"
    )
    try:
        info = wait_for_worker(server, "word_count", worker)
        client = Program.start(
            *project.client, cwd=project.directory, env=env, log=tmp_path / "client.log"
        )
        assert client.process.wait(60) == 0, client.output()
        assert client.output().strip() == ANSWER
    finally:
        code = worker.stop()
    assert code == 0, f"the worker did not stop cleanly ({code}):\n{worker.output()}"
    assert info.sdk.startswith(f"{language}/"), info.sdk
    with Client(server) as client:
        (task,) = client.list_tasks().tasks
        events = list(client.events(task.id, follow=False))
    # The remote call is recorded with the worker that ran it.
    started = [e.body for e in events if isinstance(e.body, ToolCallStarted)]
    assert [body.worker_id for body in started] == [info.worker_id]
    assert "Traceback" not in worker.output() and "destroyed" not in worker.output()
