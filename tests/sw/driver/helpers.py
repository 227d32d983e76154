"""Shared helpers of the driver tests (imported by name; the tests/ tree has no packages):
entries with recognisable payloads, a configured model."""
from __future__ import annotations

import numpy as np

from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.sw.driver.device import ModelDevice
from ringgate.sw.driver.regs import Control, R


def make_entries(n: int, start: int = 0) -> np.ndarray:
    """Entries whose every field is a distinct function of the index (so a misplaced or torn
    entry is caught by comparing any field)."""
    i = np.arange(start, start + n, dtype=np.int64)
    e = np.zeros(n, dtype=ENTRY_DTYPE)
    e["cmd"] = 1 + i % 4
    e["side"] = i % 2
    e["order_type"] = i % 5
    e["uid"] = 1000 + i
    e["order_id"] = i * 7 + 3
    e["price"] = 100_000 + i % 977
    e["reserve_price"] = -i
    e["size"] = 1 + i % 13
    e["symbol"] = i % 31
    e["user_cookie"] = (i * 2654435761) % (1 << 31)
    return e


def configure(dev: ModelDevice, ring_size: int, *, batch_limit: int = 16, cursor_interval: int = 1):
    """Allocate a ring + cursor line on ``dev`` and enable it through the contract's sequence."""
    buf = dev.alloc(ring_size * 64 + 4096)
    dev.regs.start(buf.bus, ring_size, buf.bus + ring_size * 64, batch_limit=batch_limit,
                   cursor_interval=cursor_interval)
    assert dev.read(R.CONTROL) & Control.ENABLE
    return buf

