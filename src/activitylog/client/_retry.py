"""When to retry an answer the server asked us to repeat later (429 and 503), and after how long."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import re

RETRYABLE_STATUSES = frozenset({429, 503})
# RFC 9110 says whole seconds; a decimal fraction is accepted as well.
_SECONDS = re.compile(r"\d{1,9}(\.\d{1,6})?")


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry 429 and 503 answers up to ``max_retries`` times, waiting as ``Retry-After`` asks.

    Without a usable ``Retry-After`` the wait is ``default_delay``, doubled on each retry; any
    wait is capped at ``max_delay`` so a misconfigured server cannot park the client for hours.
    """

    max_retries: int = 3
    default_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, retry_after: str | None, attempt: int, now: dt.datetime | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        asked = parse_retry_after(retry_after, now) if retry_after else None
        wait = self.default_delay * 2**attempt if asked is None else asked
        return min(max(wait, 0.0), self.max_delay)


NO_RETRIES = RetryPolicy(max_retries=0)


def parse_retry_after(value: str, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None if neither."""
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max((moment - (now or dt.datetime.now(dt.UTC))).total_seconds(), 0.0)
