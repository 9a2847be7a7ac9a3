"""AWorld Runtime Python SDK: a client, a worker for handlers and the typed contracts of
``aworld.runtime.v1``.

What every user needs is here: ``tool`` / ``agent`` / ``hook`` declare handlers, ``Worker``
serves them, ``Client`` (blocking) or ``AsyncClient`` runs tasks.

Every domain type converts to and from its protobuf message with ``to_proto()`` /
``from_proto()`` (and ``to_bytes()`` / ``from_bytes()``); generated code stays in
``aworld_client._proto`` and never appears in a public signature.
"""

from aworld_client.client import AsyncClient, Client, RuntimeServiceError
from aworld_client.common import Failure, Payload, RetryPolicy, Usage
from aworld_client.event import (
    Event,
    EventBody,
    HookDecided,
    InputProvided,
    InputRequested,
    LifecyclePhase,
    LlmCallFinished,
    MessageEmitted,
    PermissionDecision,
    Phase,
    RunNodeChanged,
    TaskStatusChanged,
    TaskSubmitted,
    ToolCallFinished,
    ToolCallStarted,
)
from aworld_client.handler import HandlerInfo, HandlerKind, HandlerSpec, WorkerInfo
from aworld_client.handlers import Pending, agent, hook, tool
from aworld_client.message import Message, MessageCategory
from aworld_client.state import NodeGroup, RunNode, RunNodeKind, RunNodeStatus, Session
from aworld_client.task import (
    AgentSpec,
    Budgets,
    ExecutionMode,
    ModelConfig,
    RunMode,
    StreamingMode,
    Swarm,
    SwarmTopology,
    Task,
    TaskConfig,
    TaskResponse,
    TaskStatus,
    ToolErrorPolicy,
)
from aworld_client.trajectory import (
    ToolCall,
    TrajectoryAction,
    TrajectoryItem,
    TrajectoryMeta,
    TrajectoryReward,
    TrajectoryState,
)
from aworld_client.worker import Worker

# The service message modules register their types on import.
from aworld_client import engine_service, runtime_service, worker_service  # noqa: F401  isort: skip

__version__ = "0.1.0"

__all__ = [
    "AgentSpec",
    "AsyncClient",
    "Client",
    "RuntimeServiceError",
    "Budgets",
    "Event",
    "EventBody",
    "ExecutionMode",
    "Failure",
    "HandlerInfo",
    "HandlerKind",
    "HandlerSpec",
    "HookDecided",
    "InputProvided",
    "InputRequested",
    "LifecyclePhase",
    "LlmCallFinished",
    "Message",
    "MessageCategory",
    "MessageEmitted",
    "ModelConfig",
    "NodeGroup",
    "Payload",
    "Pending",
    "PermissionDecision",
    "Phase",
    "RetryPolicy",
    "RunMode",
    "RunNode",
    "RunNodeChanged",
    "RunNodeKind",
    "RunNodeStatus",
    "Session",
    "StreamingMode",
    "Swarm",
    "SwarmTopology",
    "Task",
    "TaskConfig",
    "TaskResponse",
    "TaskStatus",
    "TaskStatusChanged",
    "TaskSubmitted",
    "ToolCall",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolErrorPolicy",
    "TrajectoryAction",
    "TrajectoryItem",
    "TrajectoryMeta",
    "TrajectoryReward",
    "TrajectoryState",
    "Usage",
    "Worker",
    "WorkerInfo",
    "__version__",
    "agent",
    "hook",
    "tool",
]
