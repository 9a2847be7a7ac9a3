"""Model endpoints as server configuration, for served (multi-tenant) runtimes.

A served task names a provider — ``scripted``, ``openai`` (the server's ``OPENAI_*``
environment) or an endpoint from ``[model_endpoints.<name>]`` — and a model among those the
endpoint allows. It cannot set a base URL, an API key or the variable a key is read from:
otherwise any submitter could send the server's key to its own host, read any environment
variable the same way, or make the server fetch internal URLs for it. Embedded (library) use
does not install this and keeps the direct ``ModelConfig`` options.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aworld_client import ModelConfig

from aworld_server.agents.model import Model
from aworld_server.agents.openai import OpenAIProvider
from aworld_server.agents.providers import (
    ModelCheck,
    ModelFactory,
    ModelProviders,
    served_model_violations,
)
from aworld_server.config import ModelEndpoint
from aworld_server.errors import FieldViolation, InvalidArgument

__all__ = ["ModelEndpoints", "served_model_violations"]


class ModelEndpoints:
    """Installs the configured endpoints into a runtime's :class:`ModelProviders`."""

    def __init__(self, endpoints: Mapping[str, ModelEndpoint]) -> None:
        self._endpoints = dict(endpoints)
        self._pool = OpenAIProvider()

    def install(self, models: ModelProviders) -> None:
        models.served = True
        for name, endpoint in self._endpoints.items():
            models.register(name, self._factory(name, endpoint), _allowed(name, endpoint))
        models.add_closer(self._pool.aclose)

    def _factory(self, name: str, endpoint: ModelEndpoint) -> ModelFactory:
        def build(config: ModelConfig) -> Model:
            if problems := _allowed(name, endpoint)(config):
                raise InvalidArgument(f"invalid model for provider {name!r}", problems)
            model = config.model or endpoint.models[0]
            options = config.options.value() if config.options is not None else {}
            stream = bool(options.get("stream", True)) if isinstance(options, dict) else True
            return self._pool.model(
                {
                    "model": model,
                    "base_url": endpoint.base_url,
                    # Read at call time: rotating the key needs no restart.
                    "api_key": os.environ.get(endpoint.api_key_env, "")
                    if endpoint.api_key_env
                    else "",
                    "temperature": config.temperature,
                    "max_tokens": config.max_tokens,
                    "timeout": endpoint.timeout,
                    "stream": stream,
                }
            )

        return build


def _allowed(name: str, endpoint: ModelEndpoint) -> ModelCheck:
    def check(config: ModelConfig) -> list[FieldViolation]:
        if endpoint.models and (config.model or endpoint.models[0]) not in endpoint.models:
            return [FieldViolation("model", f"provider {name!r} offers {endpoint.models}")]
        if not endpoint.models and not config.model:
            return [FieldViolation("model", f"provider {name!r} needs a model name")]
        return []

    return check
