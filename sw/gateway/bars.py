"""OHLCV bars per symbol and time frame, built from the engine's trades.

Fixes against exchange-gateway-rest: the requested time frame is honoured (the Java gateway
always answered M1), ``low`` is the minimum trade price (it was updated wrongly), and each trade
is counted once (its tick queue was never drained, so a second flush counted trades twice).
Bars are aligned to UTC: M1..D1 to multiples of their length since the epoch, W1 to Monday
00:00 UTC. Timestamps are the engine's (the sequencer's clock, journaled), so bars rebuilt from
a replay are identical.
"""
from __future__ import annotations

from collections import deque

__all__ = ["TIME_FRAMES", "BarSeries", "Bars"]

_MIN = 60_000
TIME_FRAMES = {"M1": _MIN, "M5": 5 * _MIN, "M15": 15 * _MIN, "H1": 60 * _MIN, "H4": 240 * _MIN,
               "D1": 1440 * _MIN, "W1": 7 * 1440 * _MIN}
_W1_OFFSET = 4 * 1440 * _MIN          # 1970-01-01 was a Thursday; weeks start on Monday


class BarSeries:
    """Up to ``keep`` closed bars plus the current one: [start_ms, open, high, low, close, volume]."""
    __slots__ = ("length", "offset", "bars")

    def __init__(self, length: int, offset: int = 0, keep: int = 100):
        self.length = length
        self.offset = offset
        self.bars: deque = deque(maxlen=keep + 1)

    def add(self, ts_ms: int, price: int, volume: int) -> list:
        start = (ts_ms - self.offset) // self.length * self.length + self.offset
        bars = self.bars
        if bars and bars[-1][0] >= start:
            # same bar (or a clock step backwards: never reopen a closed bar)
            b = bars[-1]
            if price > b[2]:
                b[2] = price
            if price < b[3]:
                b[3] = price
            b[4] = price
            b[5] += volume
            return b
        b = [start, price, price, price, price, volume]
        bars.append(b)
        return b


class Bars:
    def __init__(self, keep: int = 100):
        self.keep = keep
        self.series: dict[int, dict[str, BarSeries]] = {}

    def _for(self, symbol: int) -> dict[str, BarSeries]:
        s = self.series.get(symbol)
        if s is None:
            s = self.series[symbol] = {tf: BarSeries(n, _W1_OFFSET if tf == "W1" else 0, self.keep)
                                       for tf, n in TIME_FRAMES.items()}
        return s

    def trade(self, symbol: int, ts_ns: int, price: int, volume: int) -> dict[str, list]:
        """Account one trade; returns the updated bar of every time frame."""
        ms = ts_ns // 1_000_000
        return {tf: s.add(ms, price, volume) for tf, s in self._for(symbol).items()}

    def get(self, symbol: int, tf: str) -> list[list]:
        return [list(b) for b in self._for(symbol)[tf].bars]
