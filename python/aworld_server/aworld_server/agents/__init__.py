"""Agents, models, swarms and topologies."""

from aworld_server.agents.agent import Agent, HandoffSwarm, Swarm, TeamSwarm, WorkflowSwarm
from aworld_server.agents.model import Model, ModelResponse, ScriptedModel, ToolCallRequest
from aworld_server.agents.openai import OpenAIModel
from aworld_server.agents.topology import SwarmController, ToolResult

__all__ = [
    "Agent",
    "HandoffSwarm",
    "Model",
    "ModelResponse",
    "OpenAIModel",
    "ScriptedModel",
    "Swarm",
    "SwarmController",
    "TeamSwarm",
    "ToolCallRequest",
    "ToolResult",
    "WorkflowSwarm",
]
