"""Harness for the server tests: worker subprocesses whose stdout can be awaited line by line,
a TCP proxy whose connections can be cut, a throwaway PKI for TLS, task builders and
``assert_eventually``.

The worker subprocess is the dispatch suite's ``tests/dispatch/worker_app.py`` (tools ``echo``,
``block``, ``block_once``, ``fail``, ``freeze``; it reports ``started KEY ATTEMPT PID RUNNING``,
``cancelled KEY ATTEMPT``, ``freezing KEY PID`` and the SDK's log lines on stdout).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aworld_server.server import RunningServer

from aworld_client import AgentSpec, ModelConfig, Payload, RetryPolicy, Swarm, Task
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from process_harness import WAIT, WorkerProcess, assert_eventually

ROOT = Path(__file__).resolve().parents[2]
WORKER_APP = ROOT / "tests" / "dispatch" / "worker_app.py"
# Retries of lost attempts start after 50 ms instead of the default second.
FAST_RETRY = RetryPolicy(initial_interval=dt.timedelta(milliseconds=50), maximum_attempts=3)


def scripted(script: list[dict[str, Any]]) -> ModelConfig:
    return ModelConfig(provider="scripted", options=Payload.of({"script": script}))


def tool_task(
    tool: str, arguments: dict[str, Any], *, answer: str = "got {last_tool_output}", **fields: Any
) -> Task:
    """A task whose scripted agent calls ``tool`` once, then answers with its output."""
    script = [{"tool_calls": [{"name": tool, "arguments": arguments}]}, {"content": answer}]
    agent = AgentSpec(name="solver", tool_names=[tool], model=scripted(script))
    fields.setdefault("retry_policy", FAST_RETRY)
    return Task(input=Payload.from_text(f"call {tool}"), swarm=Swarm(agents=[agent]), **fields)


def answer_task(text: str = "done", *, input: str = "hello", **fields: Any) -> Task:
    """A task whose scripted agent answers ``text`` at once."""
    agent = AgentSpec(name="solver", model=scripted([{"content": text}]))
    return Task(input=Payload.from_text(input), swarm=Swarm(agents=[agent]), **fields)


async def first_to_print(workers: Iterable[WorkerProcess], pattern: str) -> WorkerProcess:
    """The worker that prints a line matching ``pattern`` first (whichever got the call)."""
    waits = {asyncio.create_task(w.expect(pattern)): w for w in workers}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    first = done.pop()
    first.result()
    return waits[first]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``upstream``; :meth:`cut` drops every open connection,
    as a network failure would (new connections are still accepted)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.connections = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers |= {writer, up_writer}
        pipes = {
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        }
        self._pipes |= pipes
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for task in pipes:
            task.cancel()
        for w in (writer, up_writer):
            w.close()
            self._writers.discard(w)
        self._pipes -= pipes

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()

    def cut(self) -> int:
        """Drop every open connection (both directions, with a TCP reset); returns how many."""
        cut = len(self._writers) // 2
        for writer in list(self._writers):
            writer.transport.abort()
        return cut

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)


@dataclass(frozen=True)
class Pki:
    """A throwaway CA, a server certificate for localhost / 127.0.0.1, and a client
    certificate, as PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path) -> Pki:
    """Generate a CA and certificates signed by it into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> Any:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        builder("aworld test CA", name("aworld test CA"), ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        subject: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]
    ) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            builder(subject, ca_cert.subject, key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    server_sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    server_cert, server_key = leaf("localhost", ExtendedKeyUsageOID.SERVER_AUTH, server_sans)
    client_cert, client_key = leaf(
        "aworld test client", ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("client")]
    )
    pki = Pki(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server_cert)
    pki.server_key.write_bytes(server_key)
    pki.client_cert.write_bytes(client_cert)
    pki.client_key.write_bytes(client_key)
    return pki


__all__ = [
    "FAST_RETRY",
    "ROOT",
    "WAIT",
    "WORKER_APP",
    "Pki",
    "TcpProxy",
    "WorkerProcess",
    "answer_task",
    "assert_eventually",
    "first_to_print",
    "make_pki",
    "scripted",
    "tool_task",
]


class Gates:
    """Keys a local ``gate`` tool waits on; the test sees when a call enters and opens it."""

    def __init__(self) -> None:
        self._open: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._entered: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.cancelled: set[str] = set()
        self.entries: Counter[str] = Counter()

    def open(self, key: str) -> None:
        self._open[key].set()

    async def entered(self, key: str) -> None:
        async with asyncio.timeout(WAIT):
            await self._entered[key].wait()

    async def pass_through(self, key: str) -> None:
        self.entries[key] += 1
        self._entered[key].set()
        try:
            await self._open[key].wait()
        except asyncio.CancelledError:
            self.cancelled.add(key)
            raise


# Fixture signatures, for annotations in tests.
StartServer = Callable[..., Awaitable["RunningServer"]]
SpawnWorker = Callable[..., Awaitable[WorkerProcess]]
