"""BAR0 register map of the PCIe DMA writer, defined once.

From :data:`REGMAP` come
- the Amaranth register decoder (``hw/pcie/bar0.py`` builds its ports, storage, write
  strobes and read multiplexer by iterating over this map; nothing is hand-listed there),
- the host driver's accessors by name (:class:`Registers`, and :class:`AsyncRegisters` for
  cocotb testbenches), with the enable/config sequence and error decoding,
- the Markdown table in ``docs/pcie.md`` (:meth:`RegisterMap.markdown`).

BAR0 is 4 KiB. All registers are little-endian; 32-bit registers sit at 4-byte aligned
offsets, 64-bit registers at 8-byte aligned offsets.

Access rules (the contract the driver relies on)
------------------------------------------------
- Supported requests: Memory Read / Memory Write of 1 DW (4-byte aligned) or 2 DW
  (8-byte aligned). A 2-DW access covers the 8-byte row: a 64-bit register, or the two
  32-bit registers of the row.
- 64-bit registers: a 64-bit (2-DW) access is atomic. With 32-bit accesses, *read the low
  half first*: it latches the high half, which the next 32-bit read of the high half
  returns (a counter cannot tear). *Write the low half first, then the high half*: the
  low half is staged and the register takes the new 64-bit value when the high half is
  written. :class:`Registers` does all this for you.
- Unknown offsets (holes, offsets >= 0x100) **read as zero** and **ignore writes**; they
  are never an error completion, so a read always completes. The access sets the sticky
  ``ERROR.BAD_ACCESS`` bit and increments ``BAD_ACCESSES``.
- Unsupported requests: a Memory Read longer than 2 DW, or a 2-DW read not 8-byte aligned,
  or any non-posted request other than Memory Read (I/O, atomics, locked read) gets an
  *Unsupported Request* completion (so it never hangs either). A Memory Write longer than
  2 DW, not aligned as above, or with partial byte enables, is dropped. Both are counted
  like unknown offsets (``BAD_ACCESS``, ``BAD_ACCESSES``).
- Writes to read-only registers are ignored (and counted as bad accesses).

Enable / configuration sequence (see :meth:`Registers.start`)
-------------------------------------------------------------
1. Check ``ID`` and ``VERSION``.
2. Write ``CONTROL = 0`` and wait for ``STATUS.BUSY == 0``: the writer finishes the TLP in
   flight, writes the cursor line for everything it sent, and stops. Configuration
   registers (``locked`` below) refuse writes while ``BUSY`` (sticky ``CONFIG_LOCKED``).
3. Allocate the host ring (``RING_SIZE`` entries of 64 B, base 4 KiB aligned, size a power
   of two from 1 to 2**26) and a 64-byte cursor line (64 B aligned, outside the ring).
   Write ``RING_BASE``, ``RING_SIZE``, ``CURSOR_ADDR``, optionally ``BATCH_LIMIT`` and
   ``CURSOR_INTERVAL``.
4. Read ``SENT`` (sequence of the next entry the writer will send; sequences are those the
   BRAM ring stamped into the entries, and survive disable/enable). Write
   ``DOORBELL = SENT`` (host ring empty) -- or any value with ``SENT - RING_SIZE <=
   DOORBELL <= SENT`` if the host still holds entries.
5. Write ``ERROR = 0xFFFFFFFF`` (clear), then ``CONTROL = ENABLE``. Read ``CONTROL``: bit
   ``ENABLE`` reads 1 only if the writer accepted the configuration; otherwise it reads 0,
   nothing was written to host memory, and ``ERROR`` says why.

Steady state: entry ``s`` is at ``RING_BASE + (s mod RING_SIZE) * 64``. The writer writes
entries, then the cursor line (``CURSOR_LINE`` in ``entry.py``: cursor, timestamp,
writes; it writes the first 24 bytes of the line and leaves the rest alone). Entries
``[first, cursor)`` are valid once the host sees ``cursor``. Entry ``s`` is written only if
``s - DOORBELL < RING_SIZE``.

Doorbell semantics: ``DOORBELL`` is the host's consumed sequence: the host has finished
with every entry below it and the writer may overwrite their slots. It must never go
backwards while enabled and never exceed ``SENT``; a write that breaks this is ignored and
sets ``ERROR.DOORBELL_RANGE`` (the previous value stays in force, see ``HOST_CONSUMED``).
Write it with one 64-bit write (or low half then high half); write it lazily (every N
entries or at half ring), each write is a PCIe posted write the device must process.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Awaitable, Iterable, Mapping, Protocol

__all__ = ["Access", "Control", "Status", "Error", "Reg", "RegisterMap", "REGMAP",
           "ID_VALUE", "VERSION_VALUE", "BAR0_SIZE", "MAX_RING_SIZE", "ENTRY_BYTES",
           "Registers", "AsyncRegisters", "ConfigError", "RegisterIO", "AsyncRegisterIO",
           "decode_errors"]

BAR0_SIZE = 4096
ID_VALUE = 0x5247_4754            # "TGGR" in memory order: 'R' 'G' 'G' 'T' read as a u32
VERSION_VALUE = 0x0001_0000       # major 1, minor 0
MAX_RING_SIZE = 1 << 26           # entries (4 GiB of host memory)
ENTRY_BYTES = 64


class Access(enum.Enum):
    RO = "RO"        # read-only, value from hardware
    RW = "RW"        # read/write storage; hardware gets the value and a write strobe
    CMD = "CMD"      # write = command to hardware (strobe + data); read = hardware state
    W1C = "W1C"      # sticky bits set by hardware, cleared by writing 1


class Control(enum.IntFlag):
    ENABLE = 1 << 0      # write 1: validate the configuration and start; 0: stop after the TLP in flight
    RESET = 1 << 1       # write 1: stop, then clear counters, cursor-write count and sticky errors (entries are kept)


class Status(enum.IntFlag):
    ENABLED = 1 << 0         # the writer is running (configuration accepted)
    BUSY = 1 << 1            # running, a TLP in flight, or the cursor line behind SENT
    HOST_FULL = 1 << 2       # entries wait because the host ring is full (doorbell lagging)
    BUS_MASTER = 1 << 3      # bus mastering enabled in the function's command register
    CURSOR_CURRENT = 1 << 4  # CURSOR_WRITTEN == SENT
    # bits [10:8]: negotiated max payload size code (0=128 B ... 3=1024 B)


STATUS_MPS_SHIFT = 8


class Error(enum.IntFlag):
    """Sticky error bits (``ERROR``, write 1 to clear). An enable refused for a config
    error leaves the writer disabled and writes nothing to host memory."""
    RING_BASE_UNALIGNED = 1 << 0    # RING_BASE not 4 KiB aligned
    RING_SIZE_INVALID = 1 << 1      # RING_SIZE zero, not a power of two, or above 2**26
    CURSOR_ADDR_UNALIGNED = 1 << 2  # CURSOR_ADDR not 64 B aligned
    CURSOR_IN_RING = 1 << 3         # the cursor line overlaps the host ring
    LIMIT_INVALID = 1 << 4          # BATCH_LIMIT or CURSOR_INTERVAL is zero
    DOORBELL_RANGE = 1 << 5         # doorbell backwards, beyond SENT, or SENT - DOORBELL > RING_SIZE at enable
    CONFIG_LOCKED = 1 << 6          # configuration write while BUSY: ignored
    BAD_ACCESS = 1 << 7             # unknown offset, read-only write, or unsupported request


def decode_errors(value: int) -> list[str]:
    return [e.name for e in Error if value & e]


@dataclass(frozen=True)
class Reg:
    offset: int
    name: str
    width: int              # 32 or 64
    access: Access
    reset: int | None       # None: design-dependent (read from hardware)
    doc: str
    locked: bool = False    # writes refused while STATUS.BUSY
    flags: type[enum.IntFlag] | None = None

    def __post_init__(self):
        if self.width not in (32, 64):
            raise ValueError(f"{self.name}: width must be 32 or 64")
        if self.offset % (self.width // 8) or not 0 <= self.offset < BAR0_SIZE:
            raise ValueError(f"{self.name}: offset {self.offset:#x} misaligned or outside BAR0")

    @property
    def attr(self) -> str:
        """Python/Amaranth identifier used for this register's ports."""
        return self.name.lower()

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1


@dataclass(frozen=True)
class RegisterMap:
    regs: tuple[Reg, ...]
    by_name: Mapping[str, Reg] = field(init=False, repr=False)
    by_offset: Mapping[int, Reg] = field(init=False, repr=False)

    def __post_init__(self):
        by_name, by_offset, used = {}, {}, {}
        for r in self.regs:
            if r.name in by_name:
                raise ValueError(f"duplicate register {r.name}")
            for dw in range(r.offset // 4, (r.offset + r.width // 8) // 4):
                if dw in used:
                    raise ValueError(f"{r.name} overlaps {used[dw]}")
                used[dw] = r.name
            by_name[r.name] = r
            by_offset[r.offset] = r
        object.__setattr__(self, "by_name", by_name)
        object.__setattr__(self, "by_offset", by_offset)

    def __getitem__(self, name: str) -> Reg:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no register named {name!r}") from None

    def __iter__(self):
        return iter(self.regs)

    def offset(self, name: str) -> int:
        return self[name].offset

    def at(self, offset: int) -> Reg | None:
        """The register whose first byte is ``offset`` (None for holes)."""
        return self.by_offset.get(offset)

    def dword(self, offset: int) -> tuple[Reg, int] | None:
        """(register, half) covering the 4-byte aligned ``offset``; half is 0 (low) or 1 (high)."""
        r = self.by_offset.get(offset)
        if r is not None:
            return r, 0
        r = self.by_offset.get(offset - 4)
        if r is not None and r.width == 64:
            return r, 1
        return None

    def markdown(self) -> str:
        lines = ["| offset | name | bits | access | reset | meaning |", "|---:|---|---:|---|---|---|"]
        for r in self.regs:
            reset = "design" if r.reset is None else f"`{r.reset:#x}`"
            access = r.access.value + (", locked" if r.locked else "")
            doc = r.doc
            if r.flags is not None:
                doc += " Bits: " + ", ".join(f"{f.name}={int(f).bit_length() - 1}" for f in r.flags) + "."
            lines.append(f"| `{r.offset:#05x}` | `{r.name}` | {r.width} | {access} | {reset} | {doc} |")
        return "\n".join(lines)


REGMAP = RegisterMap((
    Reg(0x000, "ID", 32, Access.RO, ID_VALUE, "Identity: 0x52474754 ('TGGR' in memory)."),
    Reg(0x004, "VERSION", 32, Access.RO, VERSION_VALUE, "Register map version: major in [31:16], minor in [15:0]."),
    Reg(0x008, "CAPS", 32, Access.RO, None,
        "Build parameters: [15:0] PCIe datapath bits (256 or 512), [23:16] log2 of the BRAM ring depth."),
    Reg(0x00C, "SCRATCH", 32, Access.RW, 0, "Free scratch register (link and driver tests)."),
    Reg(0x010, "CONTROL", 32, Access.CMD, 0,
        "Write: ENABLE=1 validates the configuration and starts, ENABLE=0 stops after the TLP in flight "
        "and the cursor write covering it; RESET=1 stops and clears counters, cursor-write count and "
        "sticky errors (entries stay in the BRAM ring). Read: ENABLE is 1 only while running.",
        flags=Control),
    Reg(0x014, "STATUS", 32, Access.RO, None, "Writer state; [10:8] negotiated MPS code.", flags=Status),
    Reg(0x018, "ERROR", 32, Access.W1C, 0, "Sticky errors, write 1 to clear.", flags=Error),
    Reg(0x01C, "BAD_ACCESSES", 32, Access.RO, 0,
        "Count of BAR0 accesses to unknown offsets, writes to read-only registers, unsupported requests."),
    Reg(0x020, "RING_BASE", 64, Access.RW, 0, "Bus address of the host ring; 4 KiB aligned.", locked=True),
    Reg(0x028, "CURSOR_ADDR", 64, Access.RW, 0,
        "Bus address of the 64-byte cursor line; 64 B aligned, outside the ring.", locked=True),
    Reg(0x030, "RING_SIZE", 32, Access.RW, 0,
        "Host ring size in 64-byte entries; a power of two from 1 to 2**26 (0 = unconfigured).", locked=True),
    Reg(0x034, "BATCH_LIMIT", 32, Access.RW, 16,
        "Most entries per Memory Write TLP (1..; the MPS, 4 KiB and ring-wrap limits also apply).", locked=True),
    Reg(0x038, "CURSOR_INTERVAL", 32, Access.RW, 1,
        "Most data TLPs between cursor writes under backlog (1 = a cursor write after every data TLP). "
        "When no further entry can be sent the cursor is written at once.", locked=True),
    Reg(0x040, "DOORBELL", 64, Access.RW, 0,
        "Host consumed sequence: entries below it are free. Monotonic, at most SENT, while enabled."),
    Reg(0x048, "HOST_CONSUMED", 64, Access.RO, 0, "Doorbell value in force (the last accepted one)."),
    Reg(0x050, "PUBLISHED", 64, Access.RO, 0, "Entries published into the BRAM ring since reset (its cursor)."),
    Reg(0x058, "SENT", 64, Access.RO, 0, "Sequence of the next entry to send: entries below it are in TLPs."),
    Reg(0x060, "CURSOR_WRITTEN", 64, Access.RO, 0, "Cursor value carried by the last cursor write."),
    Reg(0x068, "CURSOR_WRITES", 64, Access.RO, 0,
        "Cursor writes since enable (the line's `writes` field)."),
    Reg(0x070, "DATA_TLPS", 64, Access.RO, 0, "Data Memory Write TLPs sent."),
    Reg(0x078, "HOST_FULL_CYCLES", 64, Access.RO, 0, "Cycles with an entry ready but no room in the host ring."),
    Reg(0x080, "RQ_STALL_CYCLES", 64, Access.RO, 0, "Cycles the request interface held a beat not accepted."),
    Reg(0x088, "RING_FULL_CYCLES", 64, Access.RO, 0, "Cycles the BRAM ring refused an entry (full)."),
    Reg(0x090, "TIMESTAMP", 64, Access.RO, None, "Free-running cycle counter (user_clk)."),
    Reg(0x098, "RING_FILL", 32, Access.RO, 0, "Entries held in the BRAM ring."),
))


# -- driver accessors ---------------------------------------------------------------------

class RegisterIO(Protocol):
    def read32(self, offset: int) -> int: ...
    def write32(self, offset: int, value: int) -> None: ...


class AsyncRegisterIO(Protocol):
    async def read32(self, offset: int) -> int: ...
    async def write32(self, offset: int, value: int) -> None: ...


class ConfigError(RuntimeError):
    def __init__(self, errors: int, what: str):
        self.errors = errors
        super().__init__(f"{what}: {', '.join(decode_errors(errors)) or 'no error bit set'}")


def check_config(ring_base: int, ring_size: int, cursor_addr: int) -> None:
    """Host-side check of a configuration, mirroring the device's validation."""
    if ring_base % 4096:
        raise ValueError(f"ring_base {ring_base:#x} is not 4 KiB aligned")
    if ring_size < 1 or ring_size & (ring_size - 1) or ring_size > MAX_RING_SIZE:
        raise ValueError(f"ring_size {ring_size} is not a power of two from 1 to 2**26")
    if cursor_addr % 64:
        raise ValueError(f"cursor_addr {cursor_addr:#x} is not 64 B aligned")
    if ring_base - 64 < cursor_addr < ring_base + ring_size * ENTRY_BYTES:
        raise ValueError("cursor line overlaps the host ring")


class _Plan:
    """Register access plans shared by the sync and async accessors (generators yielding
    ("r", offset) or ("w", offset, value), receiving read results)."""

    @staticmethod
    def read(name):
        r = REGMAP[name]
        lo = yield ("r", r.offset)
        if r.width == 32:
            return lo
        hi = yield ("r", r.offset + 4)
        return lo | hi << 32

    @staticmethod
    def write(name, value):
        r = REGMAP[name]
        value = int(value)
        if not 0 <= value <= r.mask:
            raise ValueError(f"{name}: value {value:#x} does not fit {r.width} bits")
        yield ("w", r.offset, value & 0xFFFF_FFFF)
        if r.width == 64:
            yield ("w", r.offset + 4, value >> 32)

    @staticmethod
    def start(ring_base, ring_size, cursor_addr, batch_limit, cursor_interval, consumed):
        check_config(ring_base, ring_size, cursor_addr)
        ident = yield from _Plan.read("ID")
        if ident != ID_VALUE:
            raise RuntimeError(f"BAR0 ID {ident:#010x} is not ringgate's {ID_VALUE:#010x}")
        yield from _Plan.write("CONTROL", 0)
        for _ in range(10000):
            st = yield from _Plan.read("STATUS")
            if not st & Status.BUSY:
                break
        else:
            raise RuntimeError("writer still BUSY after disable")
        yield from _Plan.write("RING_BASE", ring_base)
        yield from _Plan.write("RING_SIZE", ring_size)
        yield from _Plan.write("CURSOR_ADDR", cursor_addr)
        yield from _Plan.write("BATCH_LIMIT", batch_limit)
        yield from _Plan.write("CURSOR_INTERVAL", cursor_interval)
        sent = yield from _Plan.read("SENT")
        yield from _Plan.write("DOORBELL", sent if consumed is None else consumed)
        yield from _Plan.write("ERROR", 0xFFFF_FFFF)
        yield from _Plan.write("CONTROL", Control.ENABLE)
        ctl = yield from _Plan.read("CONTROL")
        if not ctl & Control.ENABLE:
            err = yield from _Plan.read("ERROR")
            raise ConfigError(err, "enable refused")
        return sent


def _drive_sync(io, gen):
    try:
        op = next(gen)
        while True:
            if op[0] == "r":
                op = gen.send(io.read32(op[1]))
            else:
                io.write32(op[1], op[2])
                op = next(gen)
    except StopIteration as stop:
        return stop.value


async def _drive_async(io, gen):
    try:
        op = next(gen)
        while True:
            if op[0] == "r":
                op = gen.send(await io.read32(op[1]))
            else:
                await io.write32(op[1], op[2])
                op = next(gen)
    except StopIteration as stop:
        return stop.value


class Registers:
    """Named BAR0 access over any object with ``read32(offset)`` / ``write32(offset, value)``.

    >>> regs = Registers(bar)                     # doctest: +SKIP
    >>> first = regs.start(ring_base, 1024, cursor_addr)
    >>> regs.doorbell(consumed)
    """

    def __init__(self, io: RegisterIO):
        self.io = io

    def read(self, name: str) -> int:
        return _drive_sync(self.io, _Plan.read(name))

    def write(self, name: str, value: int) -> None:
        _drive_sync(self.io, _Plan.write(name, value))

    def doorbell(self, consumed: int) -> None:
        self.write("DOORBELL", consumed)

    def errors(self) -> list[str]:
        return decode_errors(self.read("ERROR"))

    def clear_errors(self) -> None:
        self.write("ERROR", 0xFFFF_FFFF)

    def start(self, ring_base: int, ring_size: int, cursor_addr: int, *, batch_limit: int = 16,
              cursor_interval: int = 1, consumed: int | None = None) -> int:
        """Disable, configure, set the doorbell, enable; returns SENT (the first sequence the
        host will see). Raises ConfigError (with the ERROR bits) if the device refuses."""
        return _drive_sync(self.io, _Plan.start(ring_base, ring_size, cursor_addr, batch_limit,
                                                cursor_interval, consumed))

    def stop(self) -> None:
        self.write("CONTROL", 0)


class AsyncRegisters:
    """The same accessors for an async register I/O (cocotb testbenches)."""

    def __init__(self, io: AsyncRegisterIO):
        self.io = io

    async def read(self, name: str) -> int:
        return await _drive_async(self.io, _Plan.read(name))

    async def write(self, name: str, value: int) -> None:
        await _drive_async(self.io, _Plan.write(name, value))

    async def doorbell(self, consumed: int) -> None:
        await self.write("DOORBELL", consumed)

    async def errors(self) -> list[str]:
        return decode_errors(await self.read("ERROR"))

    async def start(self, ring_base: int, ring_size: int, cursor_addr: int, *, batch_limit: int = 16,
                    cursor_interval: int = 1, consumed: int | None = None) -> int:
        return await _drive_async(self.io, _Plan.start(ring_base, ring_size, cursor_addr, batch_limit,
                                                       cursor_interval, consumed))

    async def stop(self) -> None:
        await self.write("CONTROL", 0)
