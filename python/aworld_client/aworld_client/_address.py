"""Server addresses, parsed the same way by every SDK.

Accepted forms: ``host:port``, ``[v6::addr]:port``, ``http://host:port`` (plaintext) and
``https://host:port`` (TLS). Anything else — no port, a path, another scheme — is rejected
when the client or worker is created, not at the first call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Address", "parse_address"]

_FORM = re.compile(
    r"^(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})/?$"
)


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed server address: ``target`` is the ``host:port`` gRPC dials."""

    target: str
    tls: bool


def parse_address(address: str) -> Address:
    """Parse ``address``; ValueError names the accepted forms when it is none of them."""
    match = _FORM.match(address.strip())
    scheme = match["scheme"] if match else None
    if match is None or scheme not in (None, "http", "https") or not 0 < int(match["port"]) < 65536:
        raise ValueError(
            f"invalid server address {address!r}: use host:port, [ipv6]:port, "
            "http://host:port or https://host:port"
        )
    return Address(target=f"{match['host']}:{int(match['port'])}", tls=scheme == "https")
