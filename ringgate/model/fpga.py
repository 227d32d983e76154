"""Golden model of the FPGA path: BRAM ring, PCIe DMA writer, cursor line, BAR0 registers.

Transaction level, numpy batch operations, no per-entry or per-TLP Python on the fast path
(millions of entries per second). It serves two purposes:

* the **model backend** of the driver (:class:`ringgate.sw.driver.device.ModelDevice`): host software
  runs against it exactly as against the board;
* the **golden model** of the RTL tests: for the same pushed entries, doorbell writes and
  burst boundaries, host memory is byte-identical (:meth:`FpgaModel.expected_ring`,
  :class:`Scoreboard` checks an observed stream of Memory Writes TLP by TLP).

Behaviour:

* The ring claims sequences from 0 (after reset) and stamps ``seq`` into each entry; ``ts`` is
  the ingress's stamp (the Ethernet ingress takes it in hardware at the frame's first beat),
  which :meth:`FpgaModel.push` takes from its caller or, given none, plays the ingress with the
  model's cycle. The ring holds at most ``depth`` entries; when it
  is full, further entries are refused and counted (``dropped``): the wire cannot wait.
* Entry ``s`` goes to ``ring_base + (s mod ring_size) * 64``, only if ``s - doorbell <
  ring_size`` (flow control against the host).
* A burst takes every entry that may be sent, split greedily into data TLPs of at most
  ``min(max_payload / 64, BATCH_LIMIT)`` entries that never cross a 4 KiB boundary or the
  ring's wrap point; a cursor-line write ``{cursor, timestamp, writes}`` (24 bytes) follows
  every ``CURSOR_INTERVAL`` data TLPs and the last one. Latency first: a single ready entry
  is one TLP and one cursor write.
* Registers by name and by 32-bit BAR0 word, with the contract's semantics
  (``ringgate.contracts.regmap``): configuration validated at enable (refused: nothing
  reaches host memory, a sticky ``ERROR`` bit says why), locked while busy, doorbell range
  checks, unknown offsets read as zero and count as bad accesses, 64-bit registers through
  32-bit accesses (low half first); STATUS, CAPS and CONTROL are packed from the map's bit
  fields, never by bit position. ``CONTROL.RESET`` stops the writer and clears counters
  and errors but keeps the sequences (entries stay in the ring); :meth:`FpgaModel.power_on`
  is the hard reset that also restarts the sequences at 0.

Timing is a cost model, not the RTL's cycle-exact pipeline: each TLP takes its beats on a
``datapath_bits`` wide request stream (descriptor 16 B + payload), with no back-pressure.
The timestamps in the cursor line come from that clock; for byte-identical comparison with an
RTL run, pass the RTL's timestamps (:meth:`FpgaModel.burst` ``timestamp=``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringgate.contracts.entry import ENTRY_BYTES, ENTRY_DTYPE
from ringgate.contracts.pcie import DESCRIPTOR_BYTES, MAX_PAYLOADS, PAGE, mps_code
from ringgate.contracts.regmap import (ID_VALUE, REGMAP, VERSION_VALUE, Access, Control, Error, RegisterMap,
                                       config_errors)

from .hostmem import HostMemory
from .tlp import count_tlps, split_tlps, tlp_limit

__all__ = ["FpgaModel", "Tlp", "Scoreboard", "ScoreboardError", "stamp", "MODELLED_GROUPS"]


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
    cursor_bytes : int
        Bytes of the cursor line the DMA writes (24 per the contract: cursor, timestamp, writes).
    trace : bool
        Record every TLP in :attr:`tlps` (tests, scoreboards; slow on long runs).
    regmap : RegisterMap
        The BAR0 map. Its ``device``, ``dma`` and ``ring`` groups are simulated; registers of
        any other group composed into it behave as plain storage (:data:`MODELLED_GROUPS`).
    """

    def __init__(self, host: HostMemory | None = None, *, depth: int = 4096, max_payload: int = 256,
                 datapath_bits: int = 256, cursor_bytes: int = 24, trace: bool = False,
                 regmap: RegisterMap = REGMAP):
        if depth < 16 or depth & (depth - 1):
            raise ValueError(f"BRAM ring depth must be a power of two >= 16, not {depth}")
        if max_payload not in MAX_PAYLOADS:
            raise ValueError(f"max payload must be one of {MAX_PAYLOADS}, not {max_payload}")
        if datapath_bits not in (64, 128, 256, 512):
            raise ValueError(f"datapath width must be 64, 128, 256 or 512 bits, not {datapath_bits}")
        if cursor_bytes not in (24, 64):
            raise ValueError(f"cursor write must be 24 or 64 bytes, not {cursor_bytes}")
        self.host = host if host is not None else HostMemory()
        self.depth = depth
        self.max_payload = max_payload
        self.datapath_bits = datapath_bits
        self.beat_bytes = datapath_bits // 8
        self.cursor_bytes = cursor_bytes
        missing = {r.name for r in regmap if regmap.group_of[r.name].name in MODELLED_GROUPS} - set(_READ)
        if missing:
            raise ValueError(f"the model has no behaviour for registers {sorted(missing)} of its groups")
        self.regmap = regmap
        self.tlps: list[Tlp] | None = [] if trace else None
        self.bram = np.zeros(depth, dtype=ENTRY_DTYPE)
        # Whole-entry copies go through byte views: numpy copies a structured dtype with
        # explicit offsets field by field (~25x slower than a plain memcpy).
        self._bram_raw = self.bram.view(np.uint8).reshape(depth, ENTRY_BYTES)
        self.now = 0                    # free-running cycle counter (TIMESTAMP)
        self.power_on()

    # -- state -----------------------------------------------------------------------

    def power_on(self) -> None:
        """Power-up / FPGA reload / function-level reset: everything to its reset value,
        sequences included (the host sees the ring restart at sequence 0)."""
        self.bram[:] = 0
        self.published = 0              # PUBLISHED: sequences claimed and written into the BRAM
        self.sent = 0                   # SENT: next sequence to send
        self.doorbell = 0               # HOST_CONSUMED: the consumed sequence in force
        self.doorbell_reg = 0           # DOORBELL: the last value the host wrote
        self.cursor_written = 0         # CURSOR_WRITTEN
        self.enabled = False
        self.ring_base = self.cursor_addr = self.ring_size = 0
        self.batch_limit = self.regmap["BATCH_LIMIT"].reset
        self.cursor_interval = self.regmap["CURSOR_INTERVAL"].reset
        self.scratch = 0
        self.storage: dict[str, int] = {}    # registers of groups the model does not simulate
        self._clear_counters()
        self.errors = 0
        self._ring_view = self._cursor_view = None
        self._stage: tuple[str, int] | None = None   # low half of a 64-bit register, 32-bit written
        self._latch: tuple[str, int] | None = None   # high half latched by a 32-bit low-half read

    def _clear_counters(self) -> None:
        self.cursor_writes = 0          # CURSOR_WRITES (since enable; the line's ``writes``)
        self.data_tlps = 0
        self.host_full_cycles = 0
        self.ring_full_cycles = 0       # entries refused by a full BRAM ring (one per cycle at most)
        self.bad_accesses = 0
        self.beats = 0
        self.cursor_tlps = 0            # all cursor writes since power-on (model statistic)

    @property
    def dropped(self) -> int:
        return self.ring_full_cycles

    @property
    def busy(self) -> bool:
        return self.enabled or self.cursor_written != self.sent

    @property
    def fill(self) -> int:
        """Entries held in the BRAM ring (published, not yet sent)."""
        return self.published - self.sent

    # -- ingress -----------------------------------------------------------------------

    def push(self, entries: np.ndarray, ts=None) -> int:
        """Offer entries to the ring; returns how many it accepted (the rest is dropped and counted).

        ``seq`` is stamped by the ring; ``ts`` is the ingress's stamp, given as ``ts`` (scalar or
        per-entry array of ingress cycles) or, if None, the current cycle (the model playing the
        ingress)."""
        if entries.dtype != ENTRY_DTYPE:
            raise TypeError(f"entries must have ENTRY_DTYPE, not {entries.dtype}")
        n = len(entries)
        k = min(n, self.depth - self.fill)
        self.ring_full_cycles += n - k
        if k == 0:
            return 0
        if ts is None:
            ts = self.now
        ts_arr = np.asarray(ts, dtype=np.uint64)
        raw = np.ascontiguousarray(entries[:k]).view(np.uint8).reshape(k, ENTRY_BYTES)
        done = 0
        while done < k:
            a = (self.published + done) % self.depth
            m = min(k - done, self.depth - a)
            self._bram_raw[a:a + m] = raw[done:done + m]
            dst = self.bram[a:a + m]
            dst["seq"] = np.arange(self.published + done, self.published + done + m, dtype=np.uint64)
            t = ts_arr if ts_arr.ndim == 0 else ts_arr[done:done + m]
            dst["ts"] = t & np.uint64(0xFFFF_FFFF)
            done += m
        self.published += k
        return k

    # -- DMA -------------------------------------------------------------------------

    def sendable(self) -> int:
        """Entries the DMA may write now: published, not sent, and inside the host's credit."""
        if not self.enabled:
            return 0
        return max(0, min(self.published, self.doorbell + self.ring_size) - self.sent)

    def burst(self, max_entries: int | None = None, *, timestamp: int | None = None) -> int:
        """Write what may be sent (up to ``max_entries``): data TLPs, a cursor write after every
        CURSOR_INTERVAL data TLPs and one after the last. Returns entries written."""
        n = self.sendable()
        if n == 0:
            if self.enabled and self.published > self.sent:
                self.host_full_cycles += 1
            return 0
        if max_entries is not None:
            n = min(n, max_entries)
        ring = self._ring()
        self._cursor()                           # resolve both windows before writing anything
        s = self.sent
        done = 0
        while done < n:                          # at most 3 slices: BRAM wrap, host wrap
            a = (s + done) % self.depth
            b = (s + done) % self.ring_size
            m = min(n - done, self.depth - a, self.ring_size - b)
            ring[b:b + m] = self._bram_raw[a:a + m]
            done += m
        limit = tlp_limit(self.max_payload, self.batch_limit)
        desc_beats = -(-DESCRIPTOR_BYTES // self.beat_bytes)
        cursor_beats = -(-(DESCRIPTOR_BYTES + self.cursor_bytes) // self.beat_bytes)
        if self.tlps is None:
            ntlps = count_tlps(s, n, self.ring_size, limit)
            ncursor = -(-ntlps // self.cursor_interval)
            beats = n * ENTRY_BYTES // self.beat_bytes + ntlps * desc_beats + ncursor * cursor_beats
            self.now += beats
            self.beats += beats
            self.data_tlps += ntlps
            self.sent = s + n
            # Earlier cursor writes of the burst are overwritten by the last; only counts remain.
            self.cursor_writes += ncursor - 1
            self.cursor_tlps += ncursor - 1
            self._write_cursor(self.now if timestamp is None else timestamp)
            return n
        tlps = split_tlps(s, n, self.ring_size, limit)
        for i, (first, count) in enumerate(tlps, 1):
            self.tlps.append(Tlp("data", self.ring_base + (first % self.ring_size) * ENTRY_BYTES,
                                 count * ENTRY_BYTES, first, count))
            beats = count * ENTRY_BYTES // self.beat_bytes + desc_beats
            self.now += beats
            self.beats += beats
            self.data_tlps += 1
            self.sent = first + count
            if i % self.cursor_interval == 0 or i == len(tlps):
                self.now += cursor_beats
                self.beats += cursor_beats
                self._write_cursor(self.now if timestamp is None else timestamp)
        return n

    def _write_cursor(self, timestamp: int) -> None:
        self.cursor_writes += 1
        self.cursor_tlps += 1
        self.cursor_written = self.sent
        words = self._cursor()                   # the line's first 3 (or 8) little-endian u64
        words[0] = self.sent
        words[1] = timestamp
        words[2] = self.cursor_writes
        if self.cursor_bytes == 64:
            words[3:] = 0                        # a whole-line write carries zero reserved words
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
        """The host ring as (ring_size, 64) bytes."""
        if self._ring_view is None:
            raw = self.host.view(self.ring_base, self.ring_size * ENTRY_BYTES)
            self._ring_view = raw.reshape(self.ring_size, ENTRY_BYTES)
        return self._ring_view

    def _cursor(self) -> np.ndarray:
        """The cursor line as little-endian u64 words (``cursor_bytes / 8`` of them)."""
        if self._cursor_view is None:
            self._cursor_view = self.host.view(self.cursor_addr, self.cursor_bytes).view("<u8")
        return self._cursor_view

    def _stop(self) -> None:
        """ENABLE=0: finish (nothing in flight in the model) and write the cursor covering SENT."""
        if self.enabled and self.cursor_written != self.sent:
            self._write_cursor(self.now)
        self.enabled = False

    def _enable(self) -> None:
        if self.enabled:
            return
        err = config_errors(self.ring_base, self.ring_size, self.cursor_addr, self.batch_limit,
                            self.cursor_interval, self.sent, self.doorbell_reg)
        if err:
            self.errors |= int(err)
            return
        self.enabled = True
        self.doorbell = self.doorbell_reg          # the DOORBELL register is what enable uses
        self.cursor_writes = 0
        self._ring_view = self._cursor_view = None

    # -- registers by name -------------------------------------------------------------

    def advance(self, cycles: int) -> None:
        self.now += int(cycles)

    def status(self) -> int:
        return self.regmap["STATUS"].pack(
            ENABLED=self.enabled, BUSY=self.busy, BUS_MASTER=1,
            HOST_FULL=self.enabled and self.published > self.sent and self.sent - self.doorbell >= self.ring_size,
            CURSOR_CURRENT=self.cursor_written == self.sent, MPS=mps_code(self.max_payload))

    def caps(self) -> int:
        return self.regmap["CAPS"].pack(DATAPATH_BITS=self.datapath_bits, RING_DEPTH_LOG2=self.depth.bit_length() - 1)

    def read(self, name: str) -> int:
        reg = self.regmap[name]
        if self.regmap.group_of[name].name not in MODELLED_GROUPS:
            return self.storage.get(name, reg.reset or 0)
        return _READ[name](self) & reg.mask

    def write(self, name: str, value: int) -> None:
        reg = self.regmap[name]
        value = int(value) & reg.mask
        if reg.access is Access.RO:
            self._bad_access()
            return
        if self.regmap.group_of[name].name not in MODELLED_GROUPS:
            old = self.storage.get(name, reg.reset or 0)
            self.storage[name] = (old & ~value if reg.access is Access.W1C
                                  else value & reg.field_mask if reg.access is Access.RW else value)
            return
        if reg.access is Access.W1C:
            self.errors &= ~value
            return
        if reg.locked and self.busy:
            self.errors |= int(Error.CONFIG_LOCKED)
            return
        if name == "CONTROL":
            if value & Control.RESET:
                self._stop()
                self._clear_counters()
                self.errors = 0
            elif value & Control.ENABLE:
                self._enable()
            else:
                self._stop()
        elif name == "DOORBELL":
            self.doorbell_reg = value
            if not self.enabled:
                return                                  # checked at enable
            if value > self.sent or value < self.doorbell:
                self.errors |= int(Error.DOORBELL_RANGE)
                return
            self.doorbell = value
        elif name == "RING_BASE":
            self.ring_base = value
        elif name == "RING_SIZE":
            self.ring_size = value
        elif name == "CURSOR_ADDR":
            self.cursor_addr = value
        elif name == "BATCH_LIMIT":
            self.batch_limit = value
        elif name == "CURSOR_INTERVAL":
            self.cursor_interval = value
        elif name == "SCRATCH":
            self.scratch = value
        else:                                                # pragma: no cover - map and model disagree
            raise NotImplementedError(f"model has no write behaviour for {name}")

    def _bad_access(self) -> None:
        self.errors |= int(Error.BAD_ACCESS)
        self.bad_accesses = (self.bad_accesses + 1) & 0xFFFF_FFFF

    # -- BAR0 by 32-bit words (what a mapped BAR or a register mailbox carries) ---------

    def read32(self, offset: int) -> int:
        """A 1-DW read. Reading the low half of a 64-bit register latches its high half (one
        latch, as in the RTL) for the next read of that high half; unknown offsets read as zero
        and count as bad accesses."""
        hit = self.regmap.dword(offset) if offset % 4 == 0 else None
        if hit is None:
            self._bad_access()
            return 0
        reg, half = hit
        if reg.width == 32:
            return self.read(reg.name)
        if half == 0:
            value = self.read(reg.name)
            self._latch = (reg.name, value >> 32)
            return value & 0xFFFF_FFFF
        if self._latch is not None and self._latch[0] == reg.name:
            value, self._latch = self._latch[1], None
            return value
        return self.read(reg.name) >> 32

    def write32(self, offset: int, value: int) -> None:
        """A 1-DW write. The low half of a 64-bit register is staged (one staging register, as
        in the RTL); the register takes the 64-bit value when its high half is written."""
        hit = self.regmap.dword(offset) if offset % 4 == 0 else None
        if hit is None:
            self._bad_access()
            return
        reg, half = hit
        value &= 0xFFFF_FFFF
        if reg.width == 32:
            self.write(reg.name, value)
        elif half == 0:
            if reg.access is Access.RO:
                self._bad_access()
            else:
                self._stage = (reg.name, value)
        else:
            staged, self._stage = self._stage, None
            low = staged[1] if staged is not None and staged[0] == reg.name else self.read(reg.name) & 0xFFFF_FFFF
            self.write(reg.name, low | value << 32)

    def read64(self, offset: int) -> int:
        """A 2-DW read of an 8-byte aligned row: atomic for a 64-bit register, else both 32-bit
        registers of the row (one bad access if either dword is unknown)."""
        reg = self.regmap.at(offset)
        if reg is not None and reg.width == 64:
            return self.read(reg.name)
        halves = (self.regmap.dword(offset), self.regmap.dword(offset + 4))
        if None in halves:
            self._bad_access()
        return sum(self.read(h[0].name) << (32 * k) for k, h in enumerate(halves) if h is not None)

    def write64(self, offset: int, value: int) -> None:
        """A 2-DW write of an 8-byte aligned row (one bad access if a dword is unknown or
        read-only; the writable dwords are written)."""
        reg = self.regmap.at(offset)
        if reg is not None and reg.width == 64:
            self._stage = None
            self.write(reg.name, value)
            return
        halves = (self.regmap.dword(offset), self.regmap.dword(offset + 4))
        if any(h is None or h[0].access is Access.RO for h in halves):
            self._bad_access()
        for k, h in enumerate(halves):
            if h is not None and h[0].access is not Access.RO:
                self.write(h[0].name, (value >> (32 * k)) & 0xFFFF_FFFF)

    # -- golden images for RTL scoreboards ------------------------------------------------

    @staticmethod
    def expected_ring(entries: np.ndarray, ring_size: int, first_seq: int = 0, ts=None) -> np.ndarray:
        """The host ring image after ``entries`` (as offered) were written from ``first_seq`` on:
        slot ``s mod ring_size`` holds the last entry with that slot."""
        img = np.zeros(ring_size, dtype=ENTRY_DTYPE)
        stamped = stamp(entries, first_seq, ts)
        last = stamped[-ring_size:] if len(stamped) > ring_size else stamped
        img[(last["seq"] % np.uint64(ring_size)).astype(np.intp)] = last
        return img


def stamp(entries: np.ndarray, first_seq: int, ts=None) -> np.ndarray:
    """A copy of ``entries`` with ``seq`` as the ring stamps it (and ``ts``, if given, as the ingress
    or the bench playing it stamped it)."""
    out = entries.copy()
    out["seq"] = np.arange(first_seq, first_seq + len(entries), dtype=np.uint64)
    if ts is not None:
        out["ts"] = np.asarray(ts, dtype=np.uint64) & np.uint64(0xFFFF_FFFF)
    return out


# Register groups the model simulates; the registers of any other group composed into the map
# behave as plain storage here (RW/CMD keep what was written, W1C clears, RO reads its reset)
# until a model of their block joins.
MODELLED_GROUPS = frozenset({"device", "dma", "ring"})

_READ = {
    "ID": lambda m: ID_VALUE,
    "VERSION": lambda m: VERSION_VALUE,
    "CAPS": lambda m: m.caps(),
    "SCRATCH": lambda m: m.scratch,
    "CONTROL": lambda m: m.regmap["CONTROL"].pack(ENABLE=m.enabled),
    "STATUS": lambda m: m.status(),
    "ERROR": lambda m: m.errors,
    "BAD_ACCESSES": lambda m: m.bad_accesses,
    "RING_BASE": lambda m: m.ring_base,
    "CURSOR_ADDR": lambda m: m.cursor_addr,
    "RING_SIZE": lambda m: m.ring_size,
    "BATCH_LIMIT": lambda m: m.batch_limit,
    "CURSOR_INTERVAL": lambda m: m.cursor_interval,
    "DOORBELL": lambda m: m.doorbell_reg,
    "HOST_CONSUMED": lambda m: m.doorbell,
    "PUBLISHED": lambda m: m.published,
    "SENT": lambda m: m.sent,
    "CURSOR_WRITTEN": lambda m: m.cursor_written,
    "CURSOR_WRITES": lambda m: m.cursor_writes,
    "DATA_TLPS": lambda m: m.data_tlps,
    "HOST_FULL_CYCLES": lambda m: m.host_full_cycles,   # model: bursts refused for room, not cycles
    "RQ_STALL_CYCLES": lambda m: 0,                    # the model's request stream never stalls
    "RING_FULL_CYCLES": lambda m: m.ring_full_cycles,
    "TIMESTAMP": lambda m: m.now,
    "RING_FILL": lambda m: m.fill,
}
_missing = {r.name for r in REGMAP if REGMAP.group_of[r.name].name in MODELLED_GROUPS} - set(_READ)
if _missing:                                           # pragma: no cover - caught at import
    raise ImportError(f"model has no read behaviour for registers {sorted(_missing)}")


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
                 batch_limit: int = 1 << 30, cursor_interval: int | None = None, first_seq: int = 0):
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
        self.cursor_interval = cursor_interval
        self._uncovered_tlps = 0

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
        self._uncovered_tlps += 1
        if self.cursor_interval is not None and self._uncovered_tlps > self.cursor_interval:
            raise ScoreboardError(f"{self._uncovered_tlps} data TLPs without a cursor write "
                                  f"(CURSOR_INTERVAL {self.cursor_interval})")

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
        self._uncovered_tlps = 0
        self.line[:len(data)] = np.frombuffer(data, np.uint8)

    def check_memory(self, ring: bytes | np.ndarray, line: bytes | np.ndarray | None = None) -> None:
        """Host memory after the run must equal the rebuilt image byte for byte."""
        got = np.frombuffer(bytes(ring), np.uint8)
        if got.size != self.ring.size or not np.array_equal(got, self.ring):
            bad = int(np.nonzero(got != self.ring)[0][0]) if got.size == self.ring.size else -1
            raise ScoreboardError(f"host ring differs from the golden image (first byte {bad})")
        if line is not None and not np.array_equal(np.frombuffer(bytes(line), np.uint8)[:64], self.line):
            raise ScoreboardError("cursor line differs from the golden image")
