"""`activitylog serve`'s options for API tokens, OIDC and the failed-authentication limits
(docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from activitylog.cli.settings_options import setting_option

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    setting_option(
        "token_check_seconds",
        type=click.FloatRange(0.01, 60),
        help="How often to check for API tokens revoked by other processes.",
    ),
    setting_option(
        "token_use_interval",
        type=click.FloatRange(0, 86_400),
        help="Write a token's last use at most this often (seconds).",
    ),
    setting_option("token_default_days", type=click.IntRange(1), help="A new token's lifetime."),
    setting_option("token_max_days", type=click.IntRange(1), help="The longest token lifetime."),
    setting_option("oidc_issuer", help="Accept JWTs from this OIDC issuer (its `iss`)."),
    setting_option("oidc_audience", help="The `aud` the JWTs must carry."),
    setting_option(
        "oidc_jwks_url", help="The issuer's JWKS [default: <issuer>/.well-known/jwks.json]."
    ),
    setting_option("oidc_domain_claim", help="The claim naming the identity domain."),
    setting_option("oidc_role_claim", help="The claim holding viewer, operator or admin."),
    setting_option("oidc_user_claim", help="The claim naming the user."),
    setting_option(
        "credential_cache_ttl",
        type=click.FloatRange(0, 86_400),
        help="How long a verified password is trusted without argon2.",
    ),
    setting_option(
        "auth_failure_window",
        type=click.IntRange(1, 1_000_000),
        help="Seconds over which failed authentications count.",
    ),
    setting_option(
        "auth_max_failures_per_address",
        type=click.IntRange(0, 1_000_000),
        help="Failures per client address before a ban (0: no limit).",
    ),
    setting_option(
        "auth_max_failures_per_user",
        type=click.IntRange(0, 1_000_000),
        help="Failures per user name before a ban (0: no limit).",
    ),
    setting_option(
        "auth_ban_seconds",
        type=click.IntRange(1, 1_000_000),
        help="The first ban; each repeat doubles it.",
    ),
    setting_option(
        "auth_max_ban_seconds", type=click.IntRange(1, 1_000_000), help="The longest ban."
    ),
    setting_option(
        "auth_refusal_delay",
        type=click.FloatRange(0, 86_400),
        help="The longest a 429 for failed authentications is held back (seconds).",
    ),
]


def security_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command
