"""Model providers: how a language-neutral ModelConfig becomes a Model object."""

from __future__ import annotations

from collections.abc import Callable

from aworld_client import ModelConfig

from aworld_server.agents.model import Model, ScriptedModel
from aworld_server.agents.openai import OpenAIProvider
from aworld_server.errors import InvalidArgument

__all__ = ["ModelProviders"]

ModelFactory = Callable[[ModelConfig], Model]
_CACHE_SIZE = 256


def _scripted(config: ModelConfig) -> Model:
    options = config.options.value() if config.options is not None else None
    if not isinstance(options, dict):
        raise InvalidArgument("the scripted model needs options {'script': [...]}")
    try:
        return ScriptedModel.from_options(options)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


class ModelProviders:
    """Factories by provider name; ``scripted`` and ``openai`` are built in."""

    def __init__(self, default_provider: str = "scripted") -> None:
        self.default_provider = default_provider
        self._factories: dict[str, ModelFactory] = {
            "scripted": _scripted,
            "openai": OpenAIProvider(),
        }
        self._cache: dict[bytes, Model] = {}

    def register(self, name: str, factory: ModelFactory) -> None:
        self._factories[name] = factory
        self._cache.clear()

    def known(self, name: str) -> bool:
        return (name or self.default_provider) in self._factories

    def create(self, config: ModelConfig | None) -> Model:
        """A model for ``config``; InvalidArgument when it cannot be built.

        Models are stateless between calls (conversations live in the agent state), so tasks
        with the same configuration share one instance instead of each building its own.
        """
        if config is None:
            raise InvalidArgument("the agent has no model configured")
        key = config.to_bytes()
        model = self._cache.get(key)
        if model is None:
            provider = config.provider or self.default_provider
            factory = self._factories.get(provider)
            if factory is None:
                raise InvalidArgument(f"unknown model provider {provider!r}")
            model = factory(config)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = model
        return model

    async def aclose(self) -> None:
        """Release what factories hold (the pooled HTTP clients of ``openai``)."""
        self._cache.clear()  # its models may be closed below
        for factory in self._factories.values():
            close = getattr(factory, "aclose", None)
            if close is not None:
                await close()
