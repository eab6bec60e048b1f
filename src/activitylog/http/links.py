"""The base URL of the links the API hands out (a 202's Location).

A client follows the link with its credentials, so the link must not name whatever host the
request's Host header claimed: it is ``--public-url`` when given; else the Host, when
``--trusted-host`` names it; else the address this server was told to serve on.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from starlette.requests import Request

from activitylog.settings import Settings

# A Host header as RFC 9110 allows it: a name or IPv4 address, or a bracketed IPv6 address,
# then maybe a port. Anything else (userinfo, a path, spaces) is never trusted.
_HOST_HEADER = re.compile(r"(?P<name>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?")
# Addresses that mean "every interface": they name no host a client could reach.
_WILDCARDS = {"", "0.0.0.0", "::"}  # noqa: S104 - compared against, not bound to


def link_base(request: Request, settings: Settings) -> str:
    """The scheme and authority (and any path prefix) that links in this answer start with."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = request.headers.get("host", "")
    if _is_trusted(host, settings.trusted_hosts):
        return f"{request.url.scheme}://{host}"
    return served_address(settings)


def served_address(settings: Settings) -> str:
    """The URL of the address ``serve`` listens on; ``localhost`` for every interface."""
    scheme = "https" if settings.tls_certificate else "http"
    host = "localhost" if settings.host in _WILDCARDS else settings.host
    if _is_ipv6(host):
        host = f"[{host}]"
    return f"{scheme}://{host}:{settings.port}"


def _is_trusted(host_header: str, trusted_hosts: tuple[str, ...]) -> bool:
    match = _HOST_HEADER.fullmatch(host_header)
    if match is None:
        return False
    name = match["name"].lower().removeprefix("[").removesuffix("]")
    return any(name == trusted.lower().strip("[]") for trusted in trusted_hosts)


# Asked on every 202 with the same host or two: 2 to 3 µs a time uncached (an address that is
# a name, such as localhost, raises and catches a ValueError), the largest new cost in a
# submission's profile after 140186d.
@functools.lru_cache(maxsize=16)
def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False
