"""Handlers the runtime dispatches to, and their registry."""

from aworld_server.handlers.registry import HandlerRegistry, MessageHandler

__all__ = ["HandlerRegistry", "MessageHandler"]
