"""Deterministic 1-minute candles and the Loader's batches."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from itertools import islice, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dummyservice.loader import Loader, LoadFailed, candles, total_steps
from dummyservice.settings import TimeRange

JANUARY = TimeRange(dt.date(2024, 1, 1), dt.date(2024, 1, 31))
ONE_DAY = TimeRange(dt.date(2024, 3, 10), dt.date(2024, 3, 10))
TWO_DAYS = TimeRange(dt.date(2024, 3, 10), dt.date(2024, 3, 11))


def first(count: int, symbol: str = "BTCUSD", time_range: TimeRange | None = JANUARY) -> list:
    return list(islice(candles(symbol, time_range), count))


class RecordingSend:
    """A stand-in for the producer: records what it is given, fails the calls it is told to."""

    def __init__(self, failing_calls: frozenset[int] = frozenset()) -> None:
        self.failing_calls = failing_calls
        self.calls = 0
        self.sent: list[tuple[bytes, bytes]] = []

    async def __call__(self, key: bytes, value: bytes) -> None:
        self.calls += 1
        if self.calls in self.failing_calls:
            raise ConnectionError("broker gone")
        self.sent.append((key, value))


def load_batches(loader: Loader, count: int) -> list[int]:
    async def batches() -> list[int]:
        return [await loader.load_batch() for _ in range(count)]

    return asyncio.run(batches())


# --- candles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time_range", "steps"),
    [(ONE_DAY, 1440), (TWO_DAYS, 2880), (JANUARY, 31 * 1440)],
    ids=["one-day", "two-days", "january"],
)
def test_a_time_range_has_1440_candles_a_day_both_days_included(
    time_range: TimeRange, steps: int
) -> None:
    assert total_steps(time_range) == steps


def test_the_first_candle_has_the_documented_shape() -> None:
    candle = first(1, time_range=None)[0]

    assert list(candle) == [
        "symbol",
        "timestamp",
        "interval",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "seq",
    ]
    assert candle["symbol"] == "BTCUSD"
    assert candle["timestamp"] == "2024-01-01T00:00:00Z"
    assert (candle["interval"], candle["open"], candle["seq"]) == ("1m", 100.0, 1)


def test_candles_start_at_the_beginning_of_the_time_range() -> None:
    assert first(1, time_range=ONE_DAY)[0]["timestamp"] == "2024-03-10T00:00:00Z"


def test_candles_walk_forward_one_minute_at_a_time_from_the_previous_close() -> None:
    for previous, current in pairwise(first(500)):
        gap = dt.datetime.fromisoformat(current["timestamp"]) - dt.datetime.fromisoformat(
            previous["timestamp"]
        )
        assert gap == dt.timedelta(minutes=1)
        assert current["seq"] == previous["seq"] + 1
        assert current["open"] == previous["close"]


def test_a_time_range_ends_with_the_last_minute_of_its_last_day() -> None:
    series = list(candles("BTCUSD", TWO_DAYS))

    assert len(series) == 2880
    assert series[-1]["timestamp"] == "2024-03-11T23:59:00Z"
    assert series[-1]["seq"] == 2880


def test_the_same_symbol_and_time_range_give_the_same_candles() -> None:
    assert first(300) == first(300)


@pytest.mark.parametrize(
    ("symbol", "time_range"),
    [("ETHUSD", JANUARY), ("BTCUSD", ONE_DAY), ("BTCUSD", None)],
    ids=["other-symbol", "other-range", "no-range"],
)
def test_another_symbol_or_time_range_gives_other_prices(
    symbol: str, time_range: TimeRange | None
) -> None:
    def prices(series: list) -> list:
        return [(c["open"], c["high"], c["low"], c["close"], c["volume"]) for c in series]

    assert prices(first(50, symbol, time_range)) != prices(first(50))


@given(
    symbol=st.text(min_size=1, max_size=12),
    start=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
    days=st.integers(0, 3),
)
def test_candles_are_deterministic_and_consistent(symbol: str, start: dt.date, days: int) -> None:
    time_range = TimeRange(start, start + dt.timedelta(days=days))

    series = first(200, symbol, time_range)

    assert series == first(200, symbol, time_range)
    for candle in series:
        assert candle["symbol"] == symbol
        assert 0 < candle["low"] <= min(candle["open"], candle["close"])
        assert max(candle["open"], candle["close"]) <= candle["high"]
        assert 1 <= candle["volume"] <= 10_000


# --- Loader -------------------------------------------------------------------------------


def test_a_loader_without_a_producer_only_counts_batches() -> None:
    loader = Loader(symbol=None, time_range=None, batch_size=100)

    assert load_batches(loader, 3) == [100, 100, 100]
    assert loader.written == 300
    assert (loader.total, loader.exhausted) == (None, False)


@pytest.mark.parametrize(
    ("records_total", "time_range", "total"),
    [
        (250, None, 250),
        (None, ONE_DAY, 1440),
        (100_000, ONE_DAY, 1440),
        (250, ONE_DAY, 250),
    ],
    ids=["records-total", "time-range", "range-is-smaller", "records-total-is-smaller"],
)
def test_the_loader_stops_at_the_smaller_of_records_total_and_the_time_range(
    records_total: int | None, time_range: TimeRange | None, total: int
) -> None:
    loader = Loader(symbol="X", time_range=time_range, batch_size=1000, records_total=records_total)

    batches = load_batches(loader, 4)

    assert loader.total == total
    assert sum(batches) == total
    assert batches[-1] == 0
    assert loader.exhausted


def test_the_last_batch_is_cut_to_what_is_left() -> None:
    loader = Loader(symbol="X", time_range=None, batch_size=100, records_total=250)

    assert load_batches(loader, 3) == [100, 100, 50]
    assert loader.exhausted


def test_the_loader_produces_consecutive_candles_keyed_by_symbol() -> None:
    send = RecordingSend()
    loader = Loader(symbol="BTCUSD", time_range=JANUARY, batch_size=40, send_record=send)

    assert load_batches(loader, 3) == [40, 40, 40]

    assert {key for key, _ in send.sent} == {b"BTCUSD"}
    assert [json.loads(value) for _, value in send.sent] == first(120)


def test_the_loader_symbol_defaults_to_dummy() -> None:
    send = RecordingSend()
    loader = Loader(symbol=None, time_range=None, batch_size=1, send_record=send)

    load_batches(loader, 1)

    assert send.sent[0][0] == b"DUMMY"
    assert json.loads(send.sent[0][1])["symbol"] == "DUMMY"


def test_the_loader_never_produces_more_than_the_time_range_holds() -> None:
    send = RecordingSend()
    loader = Loader(symbol="X", time_range=ONE_DAY, batch_size=1000, send_record=send)

    assert load_batches(loader, 3) == [1000, 440, 0]
    assert len(send.sent) == 1440


def test_a_failed_send_reports_and_counts_only_the_acknowledged_records() -> None:
    send = RecordingSend(failing_calls=frozenset({3, 5}))
    loader = Loader(symbol="X", time_range=None, batch_size=10, send_record=send)

    with pytest.raises(LoadFailed) as caught:
        load_batches(loader, 1)

    assert caught.value.written == 8
    assert str(caught.value) == "ConnectionError after 8 records of the batch"
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert loader.written == 8
