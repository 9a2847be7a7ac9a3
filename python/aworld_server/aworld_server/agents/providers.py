"""Model providers: how a language-neutral ModelConfig becomes a Model object."""

from __future__ import annotations

from collections.abc import Callable

from aworld_client import ModelConfig

from aworld_server.agents.model import Model, ScriptedModel
from aworld_server.errors import InvalidArgument

__all__ = ["ModelProviders"]

ModelFactory = Callable[[ModelConfig], Model]


def _scripted(config: ModelConfig) -> Model:
    options = config.options.value() if config.options is not None else None
    if not isinstance(options, dict):
        raise InvalidArgument("the scripted model needs options {'script': [...]}")
    try:
        return ScriptedModel.from_options(options)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


class ModelProviders:
    """Factories by provider name; ``scripted`` is built in."""

    def __init__(self, default_provider: str = "scripted") -> None:
        self.default_provider = default_provider
        self._factories: dict[str, ModelFactory] = {"scripted": _scripted}

    def register(self, name: str, factory: ModelFactory) -> None:
        self._factories[name] = factory

    def known(self, name: str) -> bool:
        return (name or self.default_provider) in self._factories

    def create(self, config: ModelConfig | None) -> Model:
        """A model for ``config``; InvalidArgument when it cannot be built."""
        if config is None:
            raise InvalidArgument("the agent has no model configured")
        provider = config.provider or self.default_provider
        factory = self._factories.get(provider)
        if factory is None:
            raise InvalidArgument(f"unknown model provider {provider!r}")
        return factory(config)
