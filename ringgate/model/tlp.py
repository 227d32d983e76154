"""The TLP split rule of the DMA writer, in Python: the one reference the golden model, the
gateware unit tests and the benches check the RTL against.

A data TLP starting at sequence ``s`` carries at most ``min(MPS / 64, BATCH_LIMIT, 16)`` entries
and never crosses a 4 KiB page of host memory or the ring's wrap point. The ring base is 4 KiB
aligned and ``ring_size`` a power of two, so both boundaries are multiples of
``P = min(64, ring_size)`` sequences.
"""
from __future__ import annotations

from ringgate.contracts.entry import ENTRY_BYTES
from ringgate.contracts.pcie import MAX_TLP_ENTRIES, PAGE

__all__ = ["ENTRIES_PER_PAGE", "tlp_limit", "split_limit", "split_tlps", "count_tlps", "plan_backlog"]

ENTRIES_PER_PAGE = PAGE // ENTRY_BYTES


def tlp_limit(max_payload: int, batch_limit: int) -> int:
    """Entries per data TLP allowed by the payload size and the batch limit."""
    return max(1, min(max_payload // ENTRY_BYTES, batch_limit, MAX_TLP_ENTRIES))


def split_limit(seq: int, size: int, mps: int, batch: int, room: int) -> int:
    """The most entries one data TLP starting at sequence ``seq`` may carry with ``room`` free
    slots in the host ring."""
    slot = seq % size
    page = min(size, ENTRIES_PER_PAGE)
    return min(mps // ENTRY_BYTES, page - slot % page, size - slot, batch, room, MAX_TLP_ENTRIES)


def split_tlps(first: int, n: int, ring_size: int, limit: int) -> list[tuple[int, int]]:
    """Greedy split of sequences ``[first, first+n)`` into ``(first, count)`` data TLPs of at
    most ``limit`` entries (:func:`tlp_limit`)."""
    p = min(ENTRIES_PER_PAGE, ring_size)
    out = []
    s, end = first, first + n
    while s < end:
        m = min(end - s, p - s % p, limit)
        out.append((s, m))
        s += m
    return out


def count_tlps(first: int, n: int, ring_size: int, limit: int) -> int:
    """Number of TLPs :func:`split_tlps` makes, in O(1)."""
    if n <= 0:
        return 0
    p = min(ENTRIES_PER_PAGE, ring_size)
    head = min(n, p - first % p)
    rest = n - head
    full, tail = divmod(rest, p)
    return -(-head // limit) + full * -(-p // limit) + -(-tail // limit)


def plan_backlog(first: int, count: int, size: int, mps: int, batch: int, consumed: int) -> list[tuple[int, int]]:
    """Split of a backlog of ``count`` entries from ``first`` with the host room fixed by
    ``consumed``: ``[(first sequence, entries), ...]``."""
    out, seq, left = [], first, count
    while left:
        room = size - (seq - consumed)
        if room <= 0:
            break
        k = min(split_limit(seq, size, mps, batch, room), left)
        out.append((seq, k))
        seq += k
        left -= k
    return out
