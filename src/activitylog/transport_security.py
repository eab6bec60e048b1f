"""Whether `serve` may listen as configured. HTTP Basic sends the password with every request,
so it crosses a network only inside TLS: ours, or a reverse proxy's that the operator vouches
for (``--behind-proxy``); or in plain text when the operator says so (``--insecure-http``)."""

from __future__ import annotations

import ipaddress

from activitylog.settings import Settings


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``: a loopback address, or ``localhost``.
    Any other name is taken as reachable from outside (it may resolve to anything)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_problem(settings: Settings) -> str | None:
    """Why `serve` must not start with these settings, in one line; None when it may."""
    if bool(settings.tls_certificate) != bool(settings.tls_key):
        return "TLS needs both --tls-certificate and --tls-key (PEM files); one was given alone."
    if settings.tls_certificate or settings.insecure_http or settings.behind_proxy:
        return None
    if is_loopback(settings.host):
        return None
    return (
        f"refusing to take HTTP Basic passwords in plain text on {settings.host}: serve TLS "
        "with --tls-certificate and --tls-key, or give --behind-proxy when a reverse proxy in "
        "front terminates TLS, or --insecure-http to accept that passwords cross the network "
        "readable."
    )
