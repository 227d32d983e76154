"""The 64-byte ring entry: one order command, as the FPGA writes it into host memory.

Field codes are exchange-core's own numbers (OrderCommandType, OrderAction, OrderType),
so an entry maps 1:1 onto an exchange-core command.

Why ``ts`` is 32 bits: seven 64-bit quantities (seq, uid, order id, price, reserve
price, size, plus a timestamp) and the 32-bit symbol and cookie already fill 64
bytes, and the command/side/type bytes must fit too.

Which clock ``ts`` counts: the Ethernet ingress (``hw/ingress``) stamps it in hardware
with the low 32 bits of its MAC-clock cycle counter at the frame's first beat; the ring
stores it unchanged (it stamps only ``seq``). A device without the ingress (``PcieTop`` on
its own, as in the co-simulation's ring start) takes ``ts`` from whatever produces its
entries. The cursor line's ``timestamp`` is the full 64-bit user-clock (250 MHz) counter,
taken when the DMA writer queues the cursor write. When both count the same clock (the ring
start, whose producer stamps user-clock cycles), an entry is always written less than
2**31 cycles (8.6 s at 250 MHz) before the cursor that covers it, so
:func:`extend_timestamp` recovers the entry's full count exactly. With the ingress the two
clocks differ: the ingress's ``SNAP_MAC_TIMESTAMP`` / ``SNAP_TIMESTAMP`` registers hold one
instant read in both, which relates them.
"""
from __future__ import annotations

import enum

from .record import Field, Record

__all__ = ["Command", "Side", "OrderType", "ENTRY", "ENTRY_BYTES", "ENTRY_DTYPE",
           "CURSOR_LINE", "CURSOR_LINE_BYTES", "CURSOR_DTYPE", "extend_timestamp"]


class Command(enum.IntEnum):
    """exchange-core ``OrderCommandType`` codes for the commands the ring carries."""
    PLACE = 1
    CANCEL = 2
    MOVE = 3
    REDUCE = 4


class Side(enum.IntEnum):
    """exchange-core ``OrderAction``."""
    ASK = 0
    BID = 1


class OrderType(enum.IntEnum):
    """exchange-core ``OrderType``."""
    GTC = 0
    IOC = 1
    IOC_BUDGET = 2
    FOK = 3
    FOK_BUDGET = 4


ENTRY = Record("ring_entry", 64, (
    Field("seq", 64, doc="hardware sequence, claimed by the ring (first entry is 0)"),
    Field("ts", 32, doc="ingress timestamp: low 32 bits of the MAC-clock cycle counter at the frame's first beat, stamped by the Ethernet ingress (a build without it takes ts from its producer)"),
    Field("cmd", 8, enum=Command, doc="command"),
    Field("side", 8, enum=Side, doc="order action"),
    Field("order_type", 8, enum=OrderType, doc="order type (place only)"),
    Field("flags", 8, doc="reserved, written as 0"),
    Field("uid", 64, signed=True, doc="user id"),
    Field("order_id", 64, signed=True, doc="order id (client assigned, unique per symbol)"),
    Field("price", 64, signed=True, doc="limit price in steps per lot; new price for move; budget for *_BUDGET"),
    Field("reserve_price", 64, signed=True, doc="bid reserve price (max price a move may reach)"),
    Field("size", 64, signed=True, doc="size in lots; reduce-by amount for reduce"),
    Field("symbol", 32, signed=True, doc="symbol id"),
    Field("user_cookie", 32, signed=True, doc="opaque client value echoed in events"),
), doc="One order command in the host ring; little-endian, naturally aligned.")

ENTRY_BYTES = ENTRY.size
ENTRY_DTYPE = ENTRY.dtype()


CURSOR_LINE = Record("cursor_line", 64, (
    Field("cursor", 64, doc="sequence of the next entry to be written: entries [0, cursor) are in host memory"),
    Field("timestamp", 64, doc="user-clock cycle counter when the DMA writer queued this cursor write (it reaches the PCIe IP after the data TLPs queued before it: later under back-pressure)"),
    Field("writes", 64, doc="number of cursor writes since enable (detects a restarted device)"),
    Field("reserved0", 64, doc="0"),
    Field("reserved1", 64, doc="0"),
    Field("reserved2", 64, doc="0"),
    Field("reserved3", 64, doc="0"),
    Field("reserved4", 64, doc="0"),
), doc="The 64-byte line the DMA writer updates after the data it covers.")

CURSOR_LINE_BYTES = CURSOR_LINE.size
CURSOR_DTYPE = CURSOR_LINE.dtype()


def extend_timestamp(ts32: int, reference64: int) -> int:
    """Full 64-bit cycle count of a 32-bit ``ts`` taken at most 2**31 cycles before ``reference64``."""
    return reference64 - ((reference64 - ts32) & 0xFFFF_FFFF)
