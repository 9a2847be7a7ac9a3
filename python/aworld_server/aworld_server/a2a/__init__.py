"""Swarms served as A2A agents (the agent-to-agent protocol, with the ``a2a-sdk``).

:func:`start_a2a` serves the swarms of ``[a2a.agents.*]`` on a port of their own: an agent card
and a JSON-RPC endpoint per swarm (``_endpoint``), whose methods run on the runtime's tasks and
event stream (``_handler``), shown as A2A tasks (``_mapping``). The other direction — a remote
A2A agent as a swarm member — is an agent policy: ``aworld_server.agents.remote_a2a``.
"""

from aworld_server.a2a._endpoint import A2AServer, start_a2a
from aworld_server.a2a._handler import A2A_AGENT_HEADER, ExposedSwarm, SwarmRequestHandler

__all__ = ["A2A_AGENT_HEADER", "A2AServer", "ExposedSwarm", "SwarmRequestHandler", "start_a2a"]
