"""Handlers the runtime dispatches to, and their registry."""

from aworld_server.handlers.registry import HandlerRegistry, LocalTool, MessageHandler

__all__ = ["HandlerRegistry", "LocalTool", "MessageHandler"]
