"""Reading a server's HTTP side in tests: ``/metrics`` parsed into numbers."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Scrape", "scrape"]

Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str, token: str = "") -> Scrape:
    """Every sample on ``url/metrics``, keyed by (sample name, labels)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/metrics", headers=headers)
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Scrape, name: str, **labels: str) -> float:
    """One sample; 0 when absent (a labelled counter appears on first use)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
