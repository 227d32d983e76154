"""Golden model of the FPGA path: BRAM ring, PCIe DMA writer, cursor line, BAR0 registers.

Transaction level, numpy batch operations, no per-entry or per-TLP Python on the fast path
(millions of entries per second). It serves two purposes:

* the **model backend** of the driver (:class:`sw.driver.device.ModelDevice`): host software
  runs against it exactly as against the board;
* the **golden model** of the RTL tests: for the same pushed entries, doorbell writes and
  burst boundaries, host memory is byte-identical (:meth:`FpgaModel.expected_ring`,
  :class:`Scoreboard` checks an observed stream of Memory Writes TLP by TLP).

Behaviour (issue 3):

* The ring claims sequences from 0 (after reset), stamps ``seq`` and the ingress ``ts`` (low
  32 bits of the cycle counter) into each entry and holds at most ``depth`` entries; when it
  is full, further entries are refused and counted (``dropped``): the wire cannot wait.
* Entry ``s`` goes to ``ring_base + (s mod ring_size) * 64``, only if ``s - doorbell <
  ring_size`` (flow control against the host).
* A burst takes every entry that may be sent (up to ``burst_limit``), split greedily into
  data TLPs of at most ``min(max_payload / 64, batch_limit)`` entries that never cross a 4 KiB
  boundary or the ring's wrap point; then one cursor-line write ``{cursor, timestamp, writes}``.
  Latency first: a single ready entry is a burst of one TLP.
* Registers by name (:mod:`sw.driver.regs`); invalid configuration is refused with a sticky
  error bit and nothing reaches host memory; any error bit stops the DMA.

Timing is a cost model, not the RTL's cycle-exact pipeline: each TLP takes its beats on a
``datapath_bits`` wide request stream (descriptor 16 B + payload), with no back-pressure.
The timestamps in the cursor line come from that clock; for byte-identical comparison with an
RTL run, pass the RTL's timestamps (:meth:`FpgaModel.burst` ``timestamp=``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringgate.contracts.entry import CURSOR_DTYPE, ENTRY_BYTES, ENTRY_DTYPE

from .hostmem import DmaFault, HostMemory
from .regs import IDENTITY, VERSION, Access, Control, Error, R, RegisterMap, register_map

__all__ = ["FpgaModel", "Tlp", "Scoreboard", "ScoreboardError", "split_tlps", "count_tlps",
           "MAX_PAYLOADS", "PAGE", "DESCRIPTOR_BYTES"]

MAX_PAYLOADS = (128, 256, 512, 1024)
PAGE = 4096
DESCRIPTOR_BYTES = 16                  # UltraScale+ RQ descriptor: the header beat share
ENTRIES_PER_PAGE = PAGE // ENTRY_BYTES
MAX_RING_SIZE = 1 << 31


@dataclass(frozen=True)
class Tlp:
    """One Memory Write the DMA issued: ``kind`` is "data" (``first``..``first+count``) or "cursor"."""
    kind: str
    addr: int
    nbytes: int
    first: int = 0
    count: int = 0
    cursor: int = 0
    timestamp: int = 0


def tlp_limit(max_payload: int, batch_limit: int) -> int:
    return max(1, min(max_payload // ENTRY_BYTES, batch_limit))


def split_tlps(first: int, n: int, ring_size: int, limit: int) -> list[tuple[int, int]]:
    """Greedy split of sequences ``[first, first+n)`` into ``(first, count)`` data TLPs.

    Boundaries: every 4 KiB page (64 entries, the ring base is 4 KiB aligned) and the wrap
    point; both are multiples of ``P = min(64, ring_size)`` sequences, as ring_size is a power
    of two."""
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


class FpgaModel:
    """The FPGA as the host sees it. All sequence numbers are Python ints (64-bit in hardware).

    Parameters
    ----------
    host : HostMemory
        Where DMA writes land (bus address -> host buffer).
    depth : int
        BRAM ring slots (power of two).
    max_payload : int
        Negotiated PCIe max payload size in bytes (``cfg_max_payload``).
    datapath_bits : int
        Request-stream width for the cost model (256: Gen3 x8, 512: Gen3 x16 / Gen4 x8).
    burst_limit : int
        Entries per cursor write under backlog (bounds how late the cursor catches up).
    cursor_bytes : int
        Bytes of the cursor line the DMA writes (24: cursor, timestamp, writes; or 64).
    trace : bool
        Record every TLP in :attr:`tlps` (tests, scoreboards; slow on long runs).
    """

    def __init__(self, host: HostMemory | None = None, *, depth: int = 4096, max_payload: int = 256,
                 datapath_bits: int = 256, burst_limit: int = 1 << 20, cursor_bytes: int = 64,
                 trace: bool = False, regmap: RegisterMap | None = None):
        if depth < 16 or depth & (depth - 1):
            raise ValueError(f"BRAM ring depth must be a power of two >= 16, not {depth}")
        if max_payload not in MAX_PAYLOADS:
            raise ValueError(f"max payload must be one of {MAX_PAYLOADS}, not {max_payload}")
        if datapath_bits not in (64, 128, 256, 512):
            raise ValueError(f"datapath width must be 64, 128, 256 or 512 bits, not {datapath_bits}")
        if cursor_bytes not in (24, 64):
            raise ValueError(f"cursor write must be 24 or 64 bytes, not {cursor_bytes}")
        if burst_limit < 1:
            raise ValueError("burst limit must be >= 1")
        self.host = host if host is not None else HostMemory()
        self.depth = depth
        self.max_payload = max_payload
        self.beat_bytes = datapath_bits // 8
        self.burst_limit = burst_limit
        self.cursor_bytes = cursor_bytes
        self.regmap = regmap or register_map()
        self.tlps: list[Tlp] | None = [] if trace else None
        self.bram = np.zeros(depth, dtype=ENTRY_DTYPE)
        self.now = 0                    # free-running cycle counter
        self.epoch = 0
        self._cursor_line = np.zeros(1, dtype=CURSOR_DTYPE)
        self._cursor_raw = self._cursor_line.view(np.uint8)
        self._reset_state()

    # -- state -----------------------------------------------------------------------

    def _reset_state(self) -> None:
        self.bram[:] = 0
        self.published = 0              # sequences claimed and written into the BRAM
        self.sent = 0                   # sequences written to the host ring
        self.cursor = 0                 # last cursor value written to the cursor line
        self.doorbell = 0               # host's consumed sequence
        self.enabled = False
        self.errors = Error(0)
        self.ring_base = 0
        self.ring_size = 0
        self.cursor_addr = 0
        self.batch_limit = self.regmap[R.BATCH_LIMIT].reset if R.BATCH_LIMIT in self.regmap else 64
        self._configured = set()        # config registers written since reset
        self.cursor_writes_since_enable = 0
        self.data_tlps = 0
        self.cursor_writes = 0
        self.dropped = 0
        self.host_full_cycles = 0
        self.beats = 0
        self._ring_view = None
        self._cursor_view = None

    def reset(self) -> None:
        """The control register's reset strobe: ring, sequences, configuration, errors, counters."""
        self._reset_state()
        self.epoch += 1

    @property
    def running(self) -> bool:
        return self.enabled and not self.errors

    @property
    def fill(self) -> int:
        """Entries held in the BRAM ring (published, not yet sent)."""
        return self.published - self.sent

    # -- ingress -----------------------------------------------------------------------

    def push(self, entries: np.ndarray, ts=None) -> int:
        """Offer entries to the ring; returns how many it accepted (the rest is dropped and counted).

        ``seq`` is stamped by the ring; ``ts`` is stamped with ``ts`` (scalar or per-entry array
        of ingress cycles) or, if None, the current cycle."""
        if entries.dtype != ENTRY_DTYPE:
            raise TypeError(f"entries must have ENTRY_DTYPE, not {entries.dtype}")
        n = len(entries)
        k = min(n, self.depth - self.fill)
        self.dropped += n - k
        if k == 0:
            return 0
        if ts is None:
            ts = self.now
        ts_arr = np.asarray(ts, dtype=np.uint64)
        done = 0
        while done < k:
            a = (self.published + done) % self.depth
            m = min(k - done, self.depth - a)
            dst = self.bram[a:a + m]
            dst[:] = entries[done:done + m]
            dst["seq"] = np.arange(self.published + done, self.published + done + m, dtype=np.uint64)
            t = ts_arr if ts_arr.ndim == 0 else ts_arr[done:done + m]
            dst["ts"] = t & np.uint64(0xFFFF_FFFF)
            done += m
        self.published += k
        return k

    # -- DMA -------------------------------------------------------------------------

    def sendable(self) -> int:
        """Entries the DMA may write now: published, not sent, and inside the host's credit."""
        if not self.running:
            return 0
        return max(0, min(self.published, self.doorbell + self.ring_size) - self.sent)

    def burst(self, max_entries: int | None = None, *, timestamp: int | None = None) -> int:
        """One burst: data TLPs for up to ``max_entries`` sendable entries, then a cursor write.

        Returns the number of entries written (0: nothing to do, no cursor write)."""
        n = self.sendable()
        if n == 0:
            if self.running and self.published > self.sent:
                self.host_full_cycles += 1
            return 0
        n = min(n, self.burst_limit if max_entries is None else min(max_entries, self.burst_limit))
        ring = self._ring()
        s = self.sent
        done = 0
        while done < n:                         # at most 3 slices: BRAM wrap, host wrap
            a = (s + done) % self.depth
            b = (s + done) % self.ring_size
            m = min(n - done, self.depth - a, self.ring_size - b)
            ring[b:b + m] = self.bram[a:a + m]
            done += m
        limit = tlp_limit(self.max_payload, self.batch_limit)
        ntlps = count_tlps(s, n, self.ring_size, limit)
        if self.tlps is not None:
            for first, count in split_tlps(s, n, self.ring_size, limit):
                self.tlps.append(Tlp("data", self.ring_base + (first % self.ring_size) * ENTRY_BYTES,
                                     count * ENTRY_BYTES, first, count))
        self.data_tlps += ntlps
        self.sent = s + n
        # Each TLP: descriptor + payload on the request stream (whole beats).
        beats = n * ENTRY_BYTES // self.beat_bytes + ntlps * -(-DESCRIPTOR_BYTES // self.beat_bytes)
        self.now += beats
        self.beats += beats
        self._write_cursor(self.now if timestamp is None else timestamp)
        return n

    def _write_cursor(self, timestamp: int) -> None:
        self.cursor_writes_since_enable += 1
        self.cursor_writes += 1
        self.cursor = self.sent
        line = self._cursor_line[0]
        line["cursor"] = self.sent
        line["timestamp"] = timestamp
        line["writes"] = self.cursor_writes_since_enable
        view = self._cursor()
        view[:self.cursor_bytes] = self._cursor_raw[:self.cursor_bytes]
        beats = -(-(DESCRIPTOR_BYTES + self.cursor_bytes) // self.beat_bytes)
        self.now += beats
        self.beats += beats
        if self.tlps is not None:
            self.tlps.append(Tlp("cursor", self.cursor_addr, self.cursor_bytes,
                                 cursor=self.sent, timestamp=timestamp))

    def run(self, max_entries: int | None = None) -> int:
        """Bursts until nothing is sendable (or ``max_entries`` written); returns entries written."""
        total = 0
        while max_entries is None or total < max_entries:
            n = self.burst(None if max_entries is None else max_entries - total)
            if n == 0:
                break
            total += n
        return total

    def _ring(self) -> np.ndarray:
        if self._ring_view is None:
            raw = self.host.view(self.ring_base, self.ring_size * ENTRY_BYTES)
            self._ring_view = raw.view(ENTRY_DTYPE)
        return self._ring_view

    def _cursor(self) -> np.ndarray:
        if self._cursor_view is None:
            self._cursor_view = self.host.view(self.cursor_addr, 64)
        return self._cursor_view

    def expected_ring(self, entries: np.ndarray, ring_size: int, first_seq: int = 0,
                      ts=None) -> np.ndarray:
        """The host ring image after ``entries`` (as pushed) were written, starting at ``first_seq``:
        slot ``s mod ring_size`` holds the last entry with that slot. For RTL scoreboards."""
        img = np.zeros(ring_size, dtype=ENTRY_DTYPE)
        n = len(entries)
        seqs = np.arange(first_seq, first_seq + n, dtype=np.uint64)
        stamped = entries.copy()
        stamped["seq"] = seqs
        if ts is not None:
            stamped["ts"] = np.asarray(ts, dtype=np.uint64) & np.uint64(0xFFFF_FFFF)
        last = stamped[-ring_size:] if n > ring_size else stamped
        img[(last["seq"] % np.uint64(ring_size)).astype(np.intp)] = last
        return img

    # -- registers -------------------------------------------------------------------

    def advance(self, cycles: int) -> None:
        self.now += int(cycles)

    def read(self, name: str) -> int:
        reg = self.regmap[name]
        value = {
            R.ID: IDENTITY, R.VERSION: VERSION,
            R.CONTROL: int(Control.ENABLE) if self.enabled else 0,
            R.ERRORS: int(self.errors),
            R.RING_BASE: self.ring_base, R.RING_SIZE: self.ring_size,
            R.CURSOR_ADDR: self.cursor_addr, R.BATCH_LIMIT: self.batch_limit,
            R.DOORBELL: self.doorbell, R.PUBLISHED: self.published, R.SENT: self.sent,
            R.CURSOR: self.cursor, R.TIMESTAMP: self.now, R.DATA_TLPS: self.data_tlps,
            R.CURSOR_WRITES: self.cursor_writes, R.DROPPED: self.dropped,
            R.HOST_FULL_CYCLES: self.host_full_cycles, R.MAX_PAYLOAD: self.max_payload,
            R.EPOCH: self.epoch,
        }.get(name, 0)
        return value & reg.mask

    def write(self, name: str, value: int) -> None:
        reg = self.regmap[name]
        value = int(value) & reg.mask
        if reg.access is Access.RO:
            return
        if reg.access is Access.W1C:
            self.errors = Error(int(self.errors) & ~value & _ALL_ERRORS)
            return
        if name == R.CONTROL:
            if value & Control.RESET:
                self.reset()
                return
            if value & Control.ENABLE and not self.enabled:
                self._enable()
            elif not value & Control.ENABLE:
                self.enabled = False
            return
        if name in (R.RING_BASE, R.RING_SIZE, R.CURSOR_ADDR):
            if self.enabled:
                self.errors |= Error.CONFIG_WHILE_ENABLED
                return
            if name == R.RING_BASE:
                if value % PAGE:
                    self.errors |= Error.RING_BASE_UNALIGNED
                    return
                self.ring_base = value
            elif name == R.RING_SIZE:
                if value == 0 or value & (value - 1) or value > MAX_RING_SIZE:
                    self.errors |= Error.RING_SIZE_INVALID
                    return
                self.ring_size = value
            else:
                if value % 64:
                    self.errors |= Error.CURSOR_ADDR_UNALIGNED
                    return
                self.cursor_addr = value
            self._configured.add(name)
            self._ring_view = self._cursor_view = None
            return
        if name == R.BATCH_LIMIT:
            if value == 0:
                self.errors |= Error.BATCH_LIMIT_INVALID
                return
            self.batch_limit = value
            return
        if name == R.DOORBELL:
            if value < self.doorbell or value > self.sent:
                self.errors |= Error.DOORBELL_INVALID
                return
            self.doorbell = value
            return

    def _enable(self) -> None:
        if {R.RING_BASE, R.RING_SIZE, R.CURSOR_ADDR} - self._configured:
            self.errors |= Error.ENABLE_UNCONFIGURED
            return
        if self.errors:
            return                       # refused while an error is pending
        self.enabled = True
        self.cursor_writes_since_enable = 0

    # -- BAR0 by offset (file-backed BAR, register mailbox) ---------------------------

    def bar_read(self, offset: int, size: int) -> int:
        """A 4- or 8-byte aligned read; unknown offsets read as zero."""
        return _bar_read(self.regmap, self.read, offset, size)

    def bar_write(self, offset: int, size: int, value: int) -> None:
        """A 4- or 8-byte aligned write; unknown offsets are ignored. A 32-bit write to half of a
        64-bit register merges with the other half (low half first, as a driver writes)."""
        _bar_write(self.regmap, self.read, self.write, offset, size, value)


_ALL_ERRORS = int(sum(Error))


def _bar_read(regmap: RegisterMap, read, offset: int, size: int) -> int:
    if size not in (4, 8) or offset % size:
        raise ValueError(f"BAR0 access of {size} bytes at {offset:#x} is not naturally aligned")
    value = 0
    for part in range(0, size, 4):
        reg = regmap.at(offset + part)
        if reg is None:
            continue
        word = (read(reg.name) >> (8 * (offset + part - reg.offset))) & 0xFFFF_FFFF
        value |= word << (8 * part)
    return value


def _bar_write(regmap: RegisterMap, read, write, offset: int, size: int, value: int) -> None:
    if size not in (4, 8) or offset % size:
        raise ValueError(f"BAR0 access of {size} bytes at {offset:#x} is not naturally aligned")
    reg = regmap.at(offset)
    if reg is None:
        return
    if size == 8 and reg.width == 32:           # two 32-bit registers in one access
        _bar_write(regmap, read, write, offset, 4, value & 0xFFFF_FFFF)
        _bar_write(regmap, read, write, offset + 4, 4, value >> 32)
        return
    if reg.width == 64 and size == 4:
        shift = 8 * (offset - reg.offset)
        if reg.access in (Access.W1C,):
            write(reg.name, value << shift)
            return
        old = read(reg.name)
        value = (old & ~(0xFFFF_FFFF << shift)) | ((value & 0xFFFF_FFFF) << shift)
    write(reg.name, value)


class ScoreboardError(AssertionError):
    pass


class Scoreboard:
    """Checks an observed stream of Memory Writes (from an RTL run) against the model's rules and
    the expected entries, and rebuilds the host memory it must produce.

    Feed it the entries offered to the ring (:meth:`expect`, in order), the host's doorbell writes
    (:meth:`doorbell`) and every Memory Write the DMA issued (:meth:`write`, address + payload).
    It fails on: a data TLP above MPS, crossing 4 KiB, past the wrap point or above the batch
    limit; an entry out of order, with wrong bytes, or outside the host's credit; a cursor write
    ahead of the data, going backwards, with a wrong ``writes`` count or non-zero reserved bytes;
    any write outside the ring and the cursor line."""

    def __init__(self, *, ring_base: int, ring_size: int, cursor_addr: int, max_payload: int,
                 batch_limit: int = 1 << 30, first_seq: int = 0):
        self.ring_base, self.ring_size, self.cursor_addr = ring_base, ring_size, cursor_addr
        self.max_payload, self.batch_limit = max_payload, batch_limit
        self.limit = tlp_limit(max_payload, batch_limit)
        self.expected = bytearray()
        self.first_seq = first_seq
        self.sent = first_seq
        self.cursor = first_seq
        self.writes = 0
        self.credit = first_seq          # latest doorbell the host wrote
        self.last_timestamp = -1
        self.ring = np.zeros(ring_size * ENTRY_BYTES, dtype=np.uint8)
        self.line = np.zeros(64, dtype=np.uint8)
        self.data_tlps = 0

    def expect(self, entries: np.ndarray, ts=None) -> None:
        stamped = entries.copy()
        base = self.first_seq + len(self.expected) // ENTRY_BYTES
        stamped["seq"] = np.arange(base, base + len(entries), dtype=np.uint64)
        if ts is not None:
            stamped["ts"] = np.asarray(ts, dtype=np.uint64) & np.uint64(0xFFFF_FFFF)
        self.expected += stamped.tobytes()

    def doorbell(self, value: int) -> None:
        self.credit = max(self.credit, value)

    def write(self, addr: int, data: bytes) -> None:
        data = bytes(data)
        ring_end = self.ring_base + self.ring_size * ENTRY_BYTES
        if self.ring_base <= addr < ring_end:
            self._data(addr, data)
        elif addr == self.cursor_addr:
            self._cursor(data)
        else:
            raise ScoreboardError(f"stray write of {len(data)} B at {addr:#x}: outside the ring "
                                  f"[{self.ring_base:#x}, {ring_end:#x}) and the cursor line {self.cursor_addr:#x}")

    def _data(self, addr: int, data: bytes) -> None:
        n, rem = divmod(len(data), ENTRY_BYTES)
        off = addr - self.ring_base
        if rem or off % ENTRY_BYTES or n == 0:
            raise ScoreboardError(f"data TLP at {addr:#x} of {len(data)} B is not whole entries")
        if len(data) > self.max_payload:
            raise ScoreboardError(f"data TLP at {addr:#x} of {len(data)} B exceeds MPS {self.max_payload}")
        if addr // PAGE != (addr + len(data) - 1) // PAGE:
            raise ScoreboardError(f"data TLP at {addr:#x} of {len(data)} B crosses a 4 KiB boundary")
        if off + len(data) > self.ring_size * ENTRY_BYTES:
            raise ScoreboardError(f"data TLP at {addr:#x} of {len(data)} B runs past the ring's wrap point")
        if n > self.batch_limit:
            raise ScoreboardError(f"data TLP of {n} entries exceeds the batch limit {self.batch_limit}")
        slot = off // ENTRY_BYTES
        if slot != self.sent % self.ring_size:
            raise ScoreboardError(f"data TLP at slot {slot}: expected slot {self.sent % self.ring_size} "
                                  f"(sequence {self.sent})")
        if self.sent + n - self.credit > self.ring_size:
            raise ScoreboardError(f"entries {self.sent}..{self.sent + n - 1} written beyond the host's "
                                  f"credit (doorbell {self.credit}, ring size {self.ring_size})")
        lo = (self.sent - self.first_seq) * ENTRY_BYTES
        want = self.expected[lo:lo + len(data)]
        if len(want) < len(data):
            raise ScoreboardError(f"entries {self.sent}..{self.sent + n - 1} written but never offered")
        if want != data:
            got = np.frombuffer(data, ENTRY_DTYPE)
            exp = np.frombuffer(bytes(want), ENTRY_DTYPE)
            bad = int(np.nonzero(got != exp)[0][0])
            fields = [f for f in ENTRY_DTYPE.names if got[bad][f] != exp[bad][f]]
            raise ScoreboardError(f"entry {self.sent + bad}: fields {fields} differ: got {got[bad]}, "
                                  f"expected {exp[bad]}")
        self.ring[off:off + len(data)] = np.frombuffer(data, np.uint8)
        self.sent += n
        self.data_tlps += 1

    def _cursor(self, data: bytes) -> None:
        if len(data) not in (24, 64):
            raise ScoreboardError(f"cursor write of {len(data)} B (expected 24 or 64)")
        words = np.frombuffer(data, "<u8")
        cursor, ts, writes = (int(w) for w in words[:3])
        if cursor > self.sent:
            raise ScoreboardError(f"cursor {cursor} written ahead of its data (entries sent: {self.sent})")
        if cursor < self.cursor:
            raise ScoreboardError(f"cursor went backwards: {self.cursor} -> {cursor}")
        if writes != self.writes + 1:
            raise ScoreboardError(f"cursor write count {writes}, expected {self.writes + 1}")
        if ts < self.last_timestamp:
            raise ScoreboardError(f"cursor timestamp went backwards: {self.last_timestamp} -> {ts}")
        if any(words[3:]):
            raise ScoreboardError("cursor line reserved words are not zero")
        self.cursor, self.writes, self.last_timestamp = cursor, writes, ts
        self.line[:len(data)] = np.frombuffer(data, np.uint8)

    def check_memory(self, ring: bytes | np.ndarray, line: bytes | np.ndarray | None = None) -> None:
        """Host memory after the run must equal the rebuilt image byte for byte."""
        got = np.frombuffer(bytes(ring), np.uint8)
        if got.size != self.ring.size or not np.array_equal(got, self.ring):
            bad = int(np.nonzero(got != self.ring)[0][0]) if got.size == self.ring.size else -1
            raise ScoreboardError(f"host ring differs from the golden image (first byte {bad})")
        if line is not None and not np.array_equal(np.frombuffer(bytes(line), np.uint8)[:64], self.line):
            raise ScoreboardError("cursor line differs from the golden image")
