"""Agents and swarms as Python objects (the AWorld-style façade over AgentSpec / Swarm)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aworld_client import AgentSpec, ModelConfig, SwarmTopology
from aworld_client import Swarm as SwarmSpec
from aworld_client.handlers import HandlerFunction

from aworld_server.agents.model import ChunkSink, Model, ModelResponse
from aworld_server.config import McpServer
from aworld_server.context import AgentState

__all__ = ["Agent", "HandoffSwarm", "Swarm", "TeamSwarm", "WorkflowSwarm"]


class Agent:
    """An agent: a name, a policy (a model and a system prompt) and the tools it may call.

    ``tools`` may be ``@tool`` functions (registered with the runtime when the agent runs) or
    names of tools registered elsewhere (local or served by remote workers). ``handoffs`` names
    agents this one may hand control to or call as members. ``mcp_servers`` are MCP servers
    whose tools the agent may all call: ``McpServer`` declarations (started when the first task
    with this agent starts) or names of servers of the server's configuration.
    """

    def __init__(
        self,
        name: str,
        *,
        model: Model | None = None,
        model_config: ModelConfig | None = None,
        system_prompt: str = "",
        description: str = "",
        tools: Sequence[HandlerFunction[Any, Any] | str] = (),
        handoffs: Sequence[str] = (),
        mcp_servers: Sequence[McpServer | str] = (),
    ) -> None:
        if not name:
            raise ValueError("an agent needs a name")
        self.name = name
        self.model = model
        self.model_config = model_config
        self.system_prompt = system_prompt
        self.description = description
        self.tool_functions = [t for t in tools if isinstance(t, HandlerFunction)]
        self.tool_names = [t if isinstance(t, str) else t.name for t in tools]
        self.handoffs = list(handoffs)
        self.mcp_servers = list(mcp_servers)

    def spec(self) -> AgentSpec:
        """The language-neutral declaration of this agent."""
        return AgentSpec(
            name=self.name,
            description=self.description,
            system_prompt=self.system_prompt,
            model=self.model_config,
            tool_names=list(self.tool_names),
            handoffs=list(self.handoffs),
            mcp_servers=[s if isinstance(s, str) else s.name for s in self.mcp_servers],
        )

    async def decide(
        self,
        state: AgentState,
        tools: Sequence[dict[str, Any]],
        *,
        on_chunk: ChunkSink | None = None,
        messages: Sequence[dict[str, Any]] | None = None,
    ) -> ModelResponse:
        """One policy step: the model's answer to the conversation so far (or to ``messages``,
        when a hook replaced what this call sees)."""
        if self.model is None:
            raise RuntimeError(f"agent {self.name} has no model")
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        conversation = list(messages) if messages is not None else state.messages
        return await self.model.complete(system + conversation, tools, on_chunk=on_chunk)


class Swarm:
    """Agents working on one task with a topology (AWorld ``Swarm``)."""

    def __init__(
        self,
        *agents: Agent,
        topology: SwarmTopology = SwarmTopology.UNSPECIFIED,
        root: str = "",
    ) -> None:
        if not agents:
            raise ValueError("a swarm needs at least one agent")
        names = [a.name for a in agents]
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be unique: {names}")
        self.agents = list(agents)
        self.topology = topology or (
            SwarmTopology.SINGLE if len(agents) == 1 else SwarmTopology.WORKFLOW
        )
        self.root = root or agents[0].name

    def spec(self) -> SwarmSpec:
        return SwarmSpec(
            topology=self.topology, agents=[a.spec() for a in self.agents], root_agent=self.root
        )


class WorkflowSwarm(Swarm):
    """Agents run in order, each getting the previous answer."""

    def __init__(self, *agents: Agent) -> None:
        super().__init__(*agents, topology=SwarmTopology.WORKFLOW)


class HandoffSwarm(Swarm):
    """Agents hand control to each other; whoever holds control when answering finishes."""

    def __init__(self, *agents: Agent) -> None:
        super().__init__(*agents, topology=SwarmTopology.HANDOFF)


class TeamSwarm(Swarm):
    """A leader calls member agents as tools and gives the final answer."""

    def __init__(self, leader: Agent, *members: Agent) -> None:
        for member in members:
            if member.name not in leader.handoffs:
                leader.handoffs.append(member.name)
        super().__init__(leader, *members, topology=SwarmTopology.TEAM, root=leader.name)
