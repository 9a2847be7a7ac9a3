"""Model providers: how a language-neutral ModelConfig becomes a Model object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aworld_client import ModelConfig

from aworld_server.agents.model import Model, ScriptedModel
from aworld_server.agents.openai import OpenAIProvider
from aworld_server.agents.remote_a2a import RemoteA2AAgents
from aworld_server.errors import FieldViolation, InvalidArgument

__all__ = ["ModelProviders", "served_model_violations"]

ModelFactory = Callable[[ModelConfig], Model]
ModelCheck = Callable[[ModelConfig], list[FieldViolation]]

# Options a served task may not set, and why (see ``agents.endpoints``).
_SERVER_ONLY = {
    "api_key": "keys are server configuration, never part of a task",
    "api_key_env": "the key's source is server configuration",
    "base_url": "endpoints are server configuration; pick a provider",
}


def served_model_violations(config: ModelConfig) -> list[FieldViolation]:
    """What a served task's ModelConfig sets that only the server may (paths relative to it)."""
    problems: list[FieldViolation] = []
    if config.base_url:
        problems.append(FieldViolation("base_url", _SERVER_ONLY["base_url"]))
    options = config.options.value() if config.options is not None else None
    if isinstance(options, dict):
        for key in sorted(set(options) & set(_SERVER_ONLY)):
            problems.append(FieldViolation(f"options.{key}", _SERVER_ONLY[key]))
    return problems


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
        self._checks: dict[str, ModelCheck] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []
        # True in a served runtime: tasks may not carry keys, key variables or URLs.
        self.served = False
        # Policies of swarm members that are remote A2A agents (AgentSpec.a2a_url).
        self.a2a = RemoteA2AAgents()

    def register(self, name: str, factory: ModelFactory, check: ModelCheck | None = None) -> None:
        """Add a provider; ``check`` lists what a config is refused for at submit."""
        self._factories[name] = factory
        if check is not None:
            self._checks[name] = check
        self._cache.clear()

    def add_closer(self, close: Callable[[], Awaitable[None]]) -> None:
        self._closers.append(close)

    def violations(self, config: ModelConfig) -> list[FieldViolation]:
        """Why ``config`` cannot be used here (paths relative to the ModelConfig); [] if it can."""
        problems = served_model_violations(config) if self.served else []
        check = self._checks.get(config.provider or self.default_provider)
        return problems + (check(config) if check is not None else [])

    def known(self, name: str) -> bool:
        return (name or self.default_provider) in self._factories

    def create(self, config: ModelConfig | None) -> Model:
        """A model for ``config``; InvalidArgument when it cannot be built.

        Models are stateless between calls (conversations live in the agent state), so tasks
        with the same configuration share one instance instead of each building its own.
        """
        if config is None:
            raise InvalidArgument("the agent has no model configured")
        if problems := self.violations(config):
            raise InvalidArgument("invalid model configuration", problems)
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
        await self.a2a.aclose()
        for closer in self._closers:
            await closer()
        for factory in self._factories.values():
            close = getattr(factory, "aclose", None)
            if close is not None:
                await close()
