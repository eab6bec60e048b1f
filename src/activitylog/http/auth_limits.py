"""Limits on failed authentication, per client address and per user name, with growing bans.

Failures are counted in moving windows by the ``limits`` library, in this process's memory:
each process counts its own, so N processes behind one address let N times as many through.
A key (an address, or a domain's user name) that reaches its limit is banned: its requests are
answered 429 before any argon2 check. Each ban of the same key doubles the one before, up to
a maximum; a key that stays out of trouble for that maximum starts again from the first.

Requests still being verified count against the limit too, and no key has more than two at a
time, so that 200 wrong passwords sent at once cost two argon2 checks, not 200, and a sign-in
from elsewhere waits behind two checks at most. A refused request is held for
a few seconds before its 429: a flood that ignores Retry-After then sends a request every few
seconds per connection instead of thousands a second, which would take the event loop from
everyone else.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import random
import time
from collections.abc import Callable

import limits
import limits.storage
import limits.strategies
import structlog

from activitylog import errors
from activitylog.settings import Settings

log = structlog.get_logger("activitylog.auth")

# Bans are forgotten once they expire; this bounds what a flood of distinct addresses (IPv6
# gives an attacker many) can make the table hold meanwhile.
_MAX_BANS = 100_000
# A request refused because enough of its key's attempts are still being verified: not a ban
# (they may yet succeed), so it is told to come back once they have been.
_BUSY_RETRY_AFTER = 1
# As many as the unknown credentials' lane runs at once: one address or user name can then never
# have more than one round of checks queued ahead of someone else's sign-in.
_MAX_VERIFYING_PER_KEY = 2


@dataclasses.dataclass(frozen=True, slots=True)
class FailureLimitSettings:
    window_seconds: int = 60
    max_per_address: int = 20
    """Failures allowed per client address within the window; 0: no limit."""
    max_per_user: int = 10
    """Failures allowed per user name (in one identity domain) within the window; 0: no limit."""
    ban_seconds: int = 60
    max_ban_seconds: int = 3600
    refusal_delay: float = 5.0
    """Seconds a refused request is held before its 429 (at most its Retry-After)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FailureLimitSettings:
        return cls(
            window_seconds=settings.auth_failure_window,
            max_per_address=settings.auth_max_failures_per_address,
            max_per_user=settings.auth_max_failures_per_user,
            ban_seconds=settings.auth_ban_seconds,
            max_ban_seconds=settings.auth_max_ban_seconds,
            refusal_delay=settings.auth_refusal_delay,
        )


@dataclasses.dataclass(slots=True)
class _Ban:
    until: float
    seconds: int
    """This ban's length; the next one is twice as long."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Key:
    kind: str
    """"address" or "user": the wording of the 429, and the limit that applies."""
    value: str


class FailedAuthenticationLimits:
    """Admits an authentication attempt, or refuses it with 429; counts the failures."""

    def __init__(
        self,
        settings: FailureLimitSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or FailureLimitSettings()
        self._clock = clock
        window = self.settings.window_seconds
        self._items = {
            "address": limits.RateLimitItemPerSecond(self.settings.max_per_address, window),
            "user": limits.RateLimitItemPerSecond(self.settings.max_per_user, window),
        }
        self._windows = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())
        self._in_flight: dict[_Key, int] = {}
        self._bans: dict[_Key, _Ban] = {}

    def refuse_if_banned(
        self, address: str | None, domain: str | None = None, user_name: str | None = None
    ) -> None:
        """Raise TooManyAuthenticationFailures when the address or the user name is banned
        (only the address when no user is named: a Bearer token's)."""
        now = self._clock()
        for key in self._keys(address, domain, user_name):
            ban = self._bans.get(key)
            if ban is not None and ban.until > now:
                raise _refusal(key, math.ceil(ban.until - now))

    def admit(self, address: str | None, domain: str, user_name: str) -> Callable[[bool], None]:
        """Hold a place among the keys' attempts for one argon2 check, or raise 429 when their
        failures and the checks under way already reach a limit. Returns the function to call,
        with whether the check failed, once it has ended."""
        keys = self._keys(address, domain, user_name)
        self.refuse_if_banned(address, domain, user_name)
        for key in keys:
            verifying = self._in_flight.get(key, 0)
            if verifying >= _MAX_VERIFYING_PER_KEY or (
                self._failures(key) + verifying >= self._limit(key)
            ):
                raise _refusal(key, _BUSY_RETRY_AFTER)
        for key in keys:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1

        def end(failed: bool) -> None:
            for key in keys:
                self._release(key)
            if failed:
                self._count_failure(keys)

        return end

    def count_failure(
        self, address: str | None, domain: str | None = None, user_name: str | None = None
    ) -> None:
        """Count a failure that was not admitted first: a Bearer token's, which names no user
        and costs a read of the store, not an argon2 check, so its attempts are not capped."""
        self._count_failure(self._keys(address, domain, user_name))

    def refusal_hold(self, retry_after: int) -> float:
        """How long to hold a refused request before its 429: up to ``refusal_delay`` (never
        past its Retry-After), at random from half of that on. Held alike, a flood's requests
        would come back together, every connection at once, and each wave would stall the
        event loop for everyone (200 refusals of a quarter of a millisecond each)."""
        longest = min(retry_after, self.settings.refusal_delay)
        return longest * random.uniform(0.5, 1.0)  # noqa: S311 - spreading load, not a secret

    def _keys(self, address: str | None, domain: str | None, user_name: str | None) -> list[_Key]:
        keys = []
        if self.settings.max_per_address > 0:
            keys.append(_Key("address", address_key(address)))
        if self.settings.max_per_user > 0 and domain is not None and user_name is not None:
            keys.append(_Key("user", f"{domain}/{user_name.casefold()}"))  # no / in a domain
        return keys

    def _limit(self, key: _Key) -> int:
        return self._items[key.kind].amount

    def _failures(self, key: _Key) -> int:
        stats = self._windows.get_window_stats(self._items[key.kind], key.kind, key.value)
        return self._limit(key) - stats.remaining

    def _release(self, key: _Key) -> None:
        remaining = self._in_flight.pop(key) - 1
        if remaining:
            self._in_flight[key] = remaining

    def _count_failure(self, keys: list[_Key]) -> None:
        for key in keys:
            item = self._items[key.kind]
            self._windows.hit(item, key.kind, key.value)
            if self._failures(key) >= item.amount:
                self._ban(key)

    def _ban(self, key: _Key) -> None:
        now = self._clock()
        previous = self._bans.pop(key, None)
        seconds = min(self.settings.ban_seconds, self.settings.max_ban_seconds)
        # A repeat offence: the last ban ended less than the longest ban ago.
        if previous is not None and now - previous.until < self.settings.max_ban_seconds:
            seconds = min(previous.seconds * 2, self.settings.max_ban_seconds)
        self._forget_expired_bans(now)
        self._bans[key] = _Ban(now + seconds, seconds)
        # The ban now stands for these failures; after it, the key starts a fresh window.
        self._windows.clear(self._items[key.kind], key.kind, key.value)
        log.warning("authentication banned", kind=key.kind, key=key.value, seconds=seconds)

    def _forget_expired_bans(self, now: float) -> None:
        if len(self._bans) < _MAX_BANS:
            return
        # A ban that ended longer than the longest ban ago no longer makes the next one grow.
        horizon = now - self.settings.max_ban_seconds
        for key in [key for key, ban in self._bans.items() if ban.until < horizon]:
            del self._bans[key]
        while len(self._bans) >= _MAX_BANS:  # all recent: drop the oldest
            del self._bans[next(iter(self._bans))]


def address_key(address: str | None) -> str:
    """What counts as one client: its IPv4 address, or its IPv6 /64 (what one host is given)."""
    if address is None:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:  # not an IP address: a Unix socket's path, a test client's name
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _refusal(key: _Key, retry_after: int) -> errors.TooManyAuthenticationFailures:
    where = "from this address" if key.kind == "address" else "for this user name"
    return errors.TooManyAuthenticationFailures(
        f"Too many failed authentications {where}; retry in {retry_after} s.",
        retry_after_seconds=retry_after,
    )
