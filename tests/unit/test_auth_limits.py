"""What counts as one client address for the failed-authentication limits."""

from __future__ import annotations

import pytest

from activitylog.http.auth_limits import address_key


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # the same host's block
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4 on a dual-stack socket
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_address_key(address: str | None, key: str) -> None:
    assert address_key(address) == key
