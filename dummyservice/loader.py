"""The loader emulation: batches of records, counted and optionally produced to Kafka.

Records are deterministic 1-minute candles for the configured symbol: the same symbol and time
range always give the same data, so two runs can be compared record by record.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from .settings import TimeRange

STEP = dt.timedelta(minutes=1)
DEFAULT_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

SendRecord = Callable[[bytes, bytes], Awaitable[None]]


class LoadFailed(Exception):
    """Producing a batch failed part-way; ``written`` records were acknowledged before that."""

    def __init__(self, written: int, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__} after {written} records of the batch")
        self.written = written


def total_steps(time_range: TimeRange) -> int:
    """Minutes from the first day's 00:00 to the last day's 23:59, both days included."""
    return ((time_range.end - time_range.start).days + 1) * 24 * 60


def candles(symbol: str, time_range: TimeRange | None) -> Iterator[dict[str, Any]]:
    """Endless (or range-bounded) deterministic candles, one per minute."""
    start = (
        dt.datetime.combine(time_range.start, dt.time(), tzinfo=dt.UTC)
        if time_range
        else DEFAULT_START
    )
    seed = hashlib.sha256(f"{symbol}|{time_range}".encode()).digest()
    rng = random.Random(seed)
    price = 100.0
    index = 0
    while time_range is None or index < total_steps(time_range):
        open_ = price
        close = max(0.01, open_ * (1 + rng.gauss(0, 0.001)))
        high = max(open_, close) * (1 + abs(rng.gauss(0, 0.0005)))
        low = min(open_, close) * (1 - abs(rng.gauss(0, 0.0005)))
        yield {
            "symbol": symbol,
            "timestamp": (start + index * STEP).isoformat().replace("+00:00", "Z"),
            "interval": "1m",
            "open": round(open_, 4),
            "high": round(high, 4),
            "low": round(low, 4),
            "close": round(close, 4),
            "volume": rng.randint(1, 10_000),
            "seq": index + 1,
        }
        price = close
        index += 1


class Loader:
    """Produces one batch per loading tick and knows when the whole job is done."""

    def __init__(
        self,
        *,
        symbol: str | None,
        time_range: TimeRange | None,
        batch_size: int,
        records_total: int | None = None,
        send_record: SendRecord | None = None,
    ) -> None:
        limits = [n for n in (records_total, time_range and total_steps(time_range)) if n]
        self.total = min(limits) if limits else None
        self.batch_size = batch_size
        self.symbol = symbol or "DUMMY"
        self.written = 0
        self._send_record = send_record
        self._records = candles(self.symbol, time_range) if send_record else None

    @property
    def exhausted(self) -> bool:
        return self.total is not None and self.written >= self.total

    async def load_batch(self) -> int:
        """Write the next batch; return how many records it wrote."""
        size = self.batch_size
        if self.total is not None:
            size = min(size, self.total - self.written)
        if self._send_record is not None and self._records is not None:
            size = await self._produce(size)
        self.written += size
        return size

    async def _produce(self, size: int) -> int:
        assert self._records is not None and self._send_record is not None
        key = self.symbol.encode("utf-8")
        sends = []
        for _ in range(size):
            record = next(self._records, None)
            if record is None:
                break
            value = json.dumps(record, separators=(",", ":")).encode("utf-8")
            sends.append(self._send_record(key, value))
        results = await asyncio.gather(*sends, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            acknowledged = len(results) - len(failures)
            self.written += acknowledged
            raise LoadFailed(acknowledged, failures[0]) from failures[0]
        return len(results)
