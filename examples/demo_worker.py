"""A remote worker for ``make demo``: it serves the demo's tools to an AWorld server.

::

    python examples/demo_worker.py --target 127.0.0.1:50051

The worker dials out to the server over ``WorkerService.Connect``, declares the tools below and
runs the calls the server pushes until SIGINT or SIGTERM, then stops gracefully. The server
never imports this file: every tool call of the demo task crosses the process boundary.

Tools: ``add`` and ``multiply`` (arithmetic), ``hotel_rate`` (a nightly hotel price in CNY),
``weather`` (a forecast) and ``to_usd`` (a CNY amount in US dollars) — small, deterministic
lookups standing in for the APIs a real agent would call.
"""

from __future__ import annotations

import argparse
import logging
import os

from aworld_client import Worker, tool

# Deterministic stand-ins for live data, so the demo's answer is always the same.
HOTEL_RATES_CNY = {"hangzhou": 420, "shanghai": 680, "beijing": 590, "chengdu": 350}
FORECASTS = {
    "hangzhou": "light rain, 17-24 °C",
    "shanghai": "cloudy, 19-25 °C",
    "beijing": "sunny, 12-23 °C",
    "chengdu": "overcast, 16-22 °C",
}
USD_PER_CNY = 0.1379


@tool(idempotent=True)
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return _number(a + b)


@tool(idempotent=True)
def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return _number(a * b)


@tool(idempotent=True)
def hotel_rate(city: str) -> int:
    """The price of one hotel night in ``city``, in CNY."""
    try:
        return HOTEL_RATES_CNY[city.strip().lower()]
    except KeyError:
        raise ValueError(f"no hotel rates for {city!r}; try {sorted(HOTEL_RATES_CNY)}") from None


@tool(idempotent=True)
def weather(city: str) -> str:
    """The weekend forecast for ``city``."""
    return FORECASTS.get(city.strip().lower(), "no forecast available")


@tool(idempotent=True)
def to_usd(amount_cny: float) -> str:
    """A CNY amount with its value in US dollars, as display text."""
    return f"{_number(amount_cny)} CNY (about {amount_cny * USD_PER_CNY:,.2f} USD)"


TOOLS = [add, multiply, hotel_rate, weather, to_usd]


def _number(value: float) -> float:
    # 1260.0 reads better as 1260 in answers; JSON keeps it a number either way.
    return int(value) if float(value).is_integer() else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default=os.environ.get("AWORLD_TARGET", "127.0.0.1:50051"))
    parser.add_argument("--token", default=os.environ.get("AWORLD_TOKEN", ""))
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="worker: %(message)s")
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    worker = Worker(
        args.target,
        TOOLS,
        max_concurrency=args.max_concurrency,
        labels={"app": "aworld-demo", "pid": str(os.getpid())},
        metadata=metadata,
    )
    worker.run_forever()


if __name__ == "__main__":
    main()
