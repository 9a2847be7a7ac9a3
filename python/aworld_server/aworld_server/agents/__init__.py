"""Agents, models, swarms and topologies."""

from aworld_server.agents.agent import Agent, HandoffSwarm, Swarm, TeamSwarm, WorkflowSwarm
from aworld_server.agents.model import Model, ModelResponse, ScriptedModel, ToolCallRequest
from aworld_server.agents.openai import OpenAIModel
from aworld_server.agents.remote_a2a import A2AAgentModel, RemoteA2AAgents
from aworld_server.agents.topology import SwarmController, ToolResult

__all__ = [
    "A2AAgentModel",
    "Agent",
    "HandoffSwarm",
    "Model",
    "ModelResponse",
    "OpenAIModel",
    "RemoteA2AAgents",
    "ScriptedModel",
    "Swarm",
    "SwarmController",
    "TeamSwarm",
    "ToolCallRequest",
    "ToolResult",
    "WorkflowSwarm",
]
