"""How long ended jobs are kept: the retention policy, and the durations the CLI accepts.

One rule decides a job's keep time: its identity domain's setting if it has one, else its
service type's, else the default. A tenant that must keep a year for compliance keeps a year
even of a noisy type kept a week elsewhere. ``0`` days means forever. Jobs that have not ended
are never pruned, whatever the policy says.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

DAY_MS = 86_400_000
DEFAULT_RETENTION_DAYS = 30

_DURATION = re.compile(r"(\d+)([dhms])")
_UNIT_MS = {"d": DAY_MS, "h": 3_600_000, "m": 60_000, "s": 1000}


@dataclasses.dataclass(frozen=True, slots=True)
class RetentionPolicy:
    days: float = DEFAULT_RETENTION_DAYS
    """Days an ended job is kept, unless its domain or service type says otherwise; 0: forever."""
    domains: Mapping[str, float] = dataclasses.field(default_factory=dict)
    service_types: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def keep_days(self, domain: str, service_type: str | None) -> float:
        if domain in self.domains:
            return self.domains[domain]
        if service_type is not None and service_type in self.service_types:
            return self.service_types[service_type]
        return self.days

    def cutoff_ms(self, domain: str, service_type: str | None, now: int) -> int | None:
        """Jobs that ended before this are pruned; None: keep them all."""
        days = self.keep_days(domain, service_type)
        return None if days <= 0 else now - int(days * DAY_MS)

    @property
    def prunes_nothing(self) -> bool:
        values = [self.days, *self.domains.values(), *self.service_types.values()]
        return all(days <= 0 for days in values)


def older_than(duration_ms: int, domain: str | None = None) -> RetentionPolicy:
    """The policy of `activitylog prune --older-than`: one age for every job (of ``domain``)."""
    days = duration_ms / DAY_MS
    if domain is None:
        return RetentionPolicy(days=days)
    return RetentionPolicy(days=0, domains={domain: days})


def parse_duration_ms(text: str) -> int:
    """``30d``, ``12h``, ``90m``, ``45s`` or a sum such as ``1d12h``; ValueError otherwise."""
    text = text.strip().lower()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"expected a duration such as 30d, 12h or 1d12h, got {text!r}")
    total = sum(int(n) * _UNIT_MS[u] for n, u in parts)
    if total <= 0:
        raise ValueError("expected a duration above zero")
    return total


def policy_from_table(table: Mapping[str, Any], default_days: float) -> RetentionPolicy:
    """The ``[retention]`` table of activitylog.toml: ``days``, ``[retention.domains]`` and
    ``[retention.service_types]``, each a number of days (0: forever). ValueError, naming the
    key, when a value is wrong."""
    unknown = set(table) - {"days", "domains", "service_types"}
    if unknown:
        raise ValueError(f"retention.{min(unknown)}: unknown key")
    days = _days(table.get("days", default_days), "retention.days")
    return RetentionPolicy(
        days=days,
        domains=_days_table(table.get("domains", {}), "retention.domains"),
        service_types=_days_table(table.get("service_types", {}), "retention.service_types"),
    )


def _days_table(value: Any, key: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError(f"{key}: expected a table of days")  # noqa: TRY004 - a config error
    return {name: _days(days, f"{key}.{name}") for name, days in value.items()}


def _days(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key}: expected a number of days, 0 (forever) or more, got {value!r}")
    return float(value)
