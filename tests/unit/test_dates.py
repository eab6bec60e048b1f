"""domain.dates: PSM's timestamp format, and the four date formats the filter reads."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from activitylog.domain.dates import format_timestamp, now_ms, parse_filter_date

APRIL_12 = 1_491_955_200_000  # 2017-04-12T00:00:00.000Z
SEEN = 1_492_012_888_238  # 2017-04-12T16:01:28.238Z
YEAR_1000 = -30_610_224_000_000  # 1000-01-01T00:00:00.000Z
END_OF_9999 = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone set far from UTC, restored afterwards."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000+0000"),
        (1_490_909_254_554, "2017-03-30T21:27:34.554+0000"),
        (SEEN, "2017-04-12T16:01:28.238+0000"),
        (APRIL_12 + 5, "2017-04-12T00:00:00.005+0000"),
        (APRIL_12 + 50, "2017-04-12T00:00:00.050+0000"),
        (APRIL_12 + 999, "2017-04-12T00:00:00.999+0000"),
        (APRIL_12 + 1000, "2017-04-12T00:00:01.000+0000"),
        (-1, "1969-12-31T23:59:59.999+0000"),
        (END_OF_9999, "9999-12-31T23:59:59.999+0000"),
    ],
)
def test_format_timestamp(epoch_ms: int, text: str) -> None:
    assert format_timestamp(epoch_ms) == text


@pytest.mark.usefixtures("far_from_utc")
def test_format_timestamp_is_utc_whatever_the_local_zone() -> None:
    assert format_timestamp(SEEN) == "2017-04-12T16:01:28.238+0000"


def test_now_ms_is_epoch_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    assert before <= now_ms() <= time.time_ns() // 1_000_000


@pytest.mark.parametrize(
    ("text", "epoch_ms"),
    [
        # yyyy-MM-dd: midnight UTC
        ("2017-04-12", APRIL_12),
        # yyyy-MM-dd'T'HH:mm:ss.SSSZ, as PSM itself writes it, and with other zones
        ("2017-04-12T16:01:28.238+0000", SEEN),
        ("2017-04-12T18:01:28.238+0200", SEEN),
        ("2017-04-12T11:01:28.238-0500", SEEN),
        ("2017-04-12T21:46:28.238+05:45", SEEN),
        ("2017-04-12T16:01:28.238+00:00", SEEN),
        ("2017-04-12T16:01:28.238Z", SEEN),
        ("2017-04-13T15:00:28.238+2259", SEEN),
        # `+` decoded to a space by a client that did not encode it
        ("2017-04-12T16:01:28.238 0000", SEEN),
        # yyyy-MM-dd HH:mm:ss and yyyy-MM-dd'T'HH:mm:ss: UTC
        ("2017-04-12 16:01:28", SEEN - 238),
        ("2017-04-12T16:01:28", SEEN - 238),
        # fractions other than three digits
        ("2017-04-12T16:01:28.2", SEEN - 38),
        ("2017-04-12T16:01:28.238999", SEEN),
        # surrounding blanks are ignored
        ("  2017-04-12\t", APRIL_12),
        ("1970-01-01", 0),
        ("9999-12-31T23:59:59.999+0000", END_OF_9999),
    ],
)
def test_parse_filter_date(text: str, epoch_ms: int) -> None:
    assert parse_filter_date(text) == epoch_ms


@pytest.mark.usefixtures("far_from_utc")
def test_parse_filter_date_without_a_zone_is_utc_whatever_the_local_zone() -> None:
    assert parse_filter_date("2017-04-12 16:01:28") == SEEN - 238
    assert parse_filter_date("2017-04-12") == APRIL_12


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "yesterday",
        "2017-4-12",
        "17-04-12",
        "2017/04/12",
        "12-04-2017",
        "2017-04-12T16:01",
        "2017-04-12T16:01:28.",
        "2017-04-12T16:01:28.1234567",
        "2017-04-12T16:01:28.238+000",
        "2017-04-12T16:01:28.238UTC",
        "2017-04-12T16:01:28.238+0000junk",
        "2017-04-12T16:01:28.238+0000\n2017-04-13",
        "2017-04-12X16:01:28",
        "2017-13-01",
        "2017-02-30",
        "0000-01-01",
        "2017-04-12T24:00:00",
        "2017-04-12T16:60:00",
        "2017-04-12T16:01:60",
        "2017-04-12T16:01:28+2400",
        "2017-04-12T16:01:28+0060",
        "2017-04-12T16:01:28-99:99",
        "\u0662\u0660\u0661\u0667-\u0660\u0664-\u0661\u0662",  # Arabic-Indic digits
        "\uff12\uff10\uff11\uff17-\uff10\uff14-\uff11\uff12",  # full-width digits
        "2017-04-12\x00",
    ],
)
def test_parse_filter_date_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (any ValueError: the caller rewords it)
        parse_filter_date(text)


@settings(deadline=None)  # a slow machine is not a failure
@given(st.integers(min_value=YEAR_1000, max_value=END_OF_9999))
@example(548_970_192_374)  # 1987-05-25T19:43:12.374: a float timestamp reads it 1 ms short
@example(2_151_374_372_036)
def test_format_then_parse_round_trips(epoch_ms: int) -> None:
    assert parse_filter_date(format_timestamp(epoch_ms)) == epoch_ms


@settings(deadline=None)  # a slow machine is not a failure
@given(st.integers(min_value=YEAR_1000, max_value=END_OF_9999))
@example(0)
@example(59_999)
@example(60_000)
def test_format_timestamp_matches_datetime(epoch_ms: int) -> None:
    moment = dt.datetime.fromtimestamp(epoch_ms // 1000, dt.UTC)
    expected = f"{moment:%Y-%m-%dT%H:%M:%S}.{epoch_ms % 1000:03d}+0000"
    assert format_timestamp(epoch_ms) == expected


@settings(deadline=None)  # a slow machine is not a failure
@given(
    st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(9999, 12, 30)).map(
        lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    ),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_any_zone_names_the_same_instant(moment: dt.datetime, offset_minutes: int) -> None:
    utc = moment.replace(tzinfo=dt.UTC)
    local = utc.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes)))
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    zone = f"{sign}{hours:02d}{minutes:02d}"
    text = f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}{zone}"
    assert parse_filter_date(text) == parse_filter_date(format_timestamp(_epoch_ms(utc)))


@settings(deadline=None)  # a slow machine is not a failure
@given(st.text())
def test_parse_filter_date_only_ever_raises_value_error(text: str) -> None:
    try:
        result = parse_filter_date(text)
    except ValueError:
        return
    assert isinstance(result, int)


def _epoch_ms(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


YEAR_1 = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z, the earliest date /openapi.json allows


@pytest.mark.parametrize(
    ("text", "epoch_ms"),
    [
        ("0001-01-01", YEAR_1),
        ("0001-01-01T00:30:00+0100", YEAR_1 - 30 * 60_000),
        ("9999-12-31T23:00:00-0500", END_OF_9999 + 1 + 4 * 3_600_000),
    ],
)
def test_a_zone_may_carry_the_instant_past_the_years_ends(text: str, epoch_ms: int) -> None:
    # The document's date pattern allows any offset on any day from 0001 to 9999: the
    # server reads them all, rather than overflow where the offset crosses a year's end.
    assert parse_filter_date(text) == epoch_ms
