"""BAR0 register map, defined once: register groups, each register with its bit fields.

The map is data. It is composed from *register groups*, one per consumer of the registers
(the DMA writer, the BRAM ring, the device itself; the Ethernet ingress adds its own group),
and every register may declare *bit fields* (name, bit offset, width, optional enum). From it
come

- the BAR0 block (``hw/pcie/bar0.py``): decode, storage, strobes, read multiplexer, locks,
  and one interface per group (``hw/pcie/regs.py``), whose register values carry the
  fields' ``data`` layouts (:meth:`Reg.layout`), so gateware packs STATUS or reads
  CONTROL by field name;
- the golden model's register semantics (``ringgate.model.fpga``), which pack and unpack
  values with :meth:`Reg.pack` / :meth:`Reg.unpack`;
- the driver's accessors by name (``ringgate.sw.driver.registers``) and its flags
  (:data:`Control`, :data:`Status`, :data:`Error`, generated from the one-bit fields);
- the Markdown tables in ``docs/pcie.md``: :meth:`RegisterMap.markdown` (words) and
  :meth:`RegisterMap.fields_markdown` (bit fields).

No bit position is written anywhere else.

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
  written. The driver's ``Registers`` does all this for you.
- Unknown offsets (holes, offsets >= 0x100) **read as zero** and **ignore writes**; they
  are never an error completion, so a read always completes. The access sets the sticky
  ``ERROR.BAD_ACCESS`` bit and increments ``BAD_ACCESSES``.
- Unsupported requests: a Memory Read longer than 2 DW, or a 2-DW read not 8-byte aligned,
  or any non-posted request other than Memory Read (I/O, atomics, locked read) gets an
  *Unsupported Request* completion (so it never hangs either). A Memory Write longer than
  2 DW, not aligned as above, or with partial byte enables, is dropped. Both are counted
  in ``BAD_ACCESSES``.
- Writes to read-only registers are ignored (and counted as bad accesses).

Enable / configuration sequence (the driver's ``Registers.start``)
-------------------------------------------------------------------
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

Composing the map
-----------------
A block that brings registers defines a :class:`RegGroup` in its own contract module and
the map is composed from the groups (:meth:`RegisterMap.compose`, or
:meth:`RegisterMap.with_groups` on an existing map); overlaps, duplicate names and
malformed fields are refused when the map is built. A map change that a driver can see
bumps :data:`VERSION_VALUE`. ``docs/pcie.md`` ("Adding registers") walks through it.
"""
from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Mapping

from .pcie import MAX_PAYLOADS, PAGE, mps_code

__all__ = ["Access", "BitField", "Reg", "RegGroup", "BusErrors", "RegisterMap", "REGMAP",
           "DEVICE", "DMA", "RING", "MaxPayload", "Control", "Status", "Error",
           "ID_VALUE", "VERSION_VALUE", "BAR0_SIZE", "MAX_RING_SIZE", "ENTRY_BYTES", "config_errors"]

BAR0_SIZE = 4096
ID_VALUE = 0x5247_4754            # "TGGR" in memory order: 'R' 'G' 'G' 'T' read as a u32
VERSION_VALUE = 0x0001_0001       # major 1, minor 1 (ERROR.RING_WRAPS, ERROR.TLP_LOST)
MAX_RING_SIZE = 1 << 26           # entries (4 GiB of host memory)
ENTRY_BYTES = 64


class Access(enum.Enum):
    RO = "RO"        # read-only, value from hardware
    RW = "RW"        # read/write storage; hardware gets the value and a write strobe
    CMD = "CMD"      # write = command to hardware (strobe + data); read = hardware state
    W1C = "W1C"      # sticky bits set by hardware, cleared by writing 1


MaxPayload = enum.IntEnum("MaxPayload", {f"B{b}": mps_code(b) for b in MAX_PAYLOADS})
MaxPayload.__doc__ = "Max payload size codes of the PCIe Device Control register (``cfg_max_payload``)."


@functools.lru_cache(maxsize=None)
def _hdl_enum(py_enum: type[enum.IntEnum], width: int):
    """An Amaranth enum with the members of ``py_enum`` and shape ``width`` bits (one class
    per pair, so layouts built twice compare equal)."""
    import types

    from amaranth.lib import enum as hdl_enum

    return types.new_class(py_enum.__name__, (hdl_enum.IntEnum,), {"shape": width},
                           lambda ns: [ns.__setitem__(m.name, m.value) for m in py_enum])


@dataclass(frozen=True)
class BitField:
    """A bit field of a register.

    Parameters
    ----------
    name : str
        Upper-case name, as the driver and the docs spell it (``STATUS.BUSY``); the
        gateware's layout member is :attr:`attr`.
    offset : int
        Lowest bit.
    width : int
        Bits.
    doc : str
        Meaning.
    enum : IntEnum subclass, optional
        Named values; the layout member gets an Amaranth enum of ``width`` bits with them.
    """
    name: str
    offset: int
    width: int = 1
    doc: str = ""
    enum: type[enum.IntEnum] | None = None

    def __post_init__(self):
        if not self.name.isidentifier() or self.name != self.name.upper():
            raise ValueError(f"field name {self.name!r} must be an upper-case identifier")
        if self.offset < 0 or self.width < 1:
            raise ValueError(f"field {self.name}: offset {self.offset}, width {self.width}")
        if self.enum is not None and max(self.enum) >> self.width:
            raise ValueError(f"field {self.name}: enum {self.enum.__name__} does not fit {self.width} bits")

    @property
    def attr(self) -> str:
        return self.name.lower()

    @property
    def bits(self) -> str:
        """``"10:8"`` or ``"3"``: the bit range as datasheets write it."""
        hi = self.offset + self.width - 1
        return f"{hi}:{self.offset}" if self.width > 1 else str(self.offset)

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.offset

    def shape(self):
        from amaranth.hdl import unsigned
        return unsigned(self.width) if self.enum is None else _hdl_enum(self.enum, self.width)


@dataclass(frozen=True)
class Reg:
    """One register of BAR0.

    Parameters
    ----------
    offset, name, width, access, reset, doc
        Byte offset, upper-case name, 32 or 64 bits, :class:`Access`, reset value (None:
        design-dependent, read from hardware), meaning.
    locked : bool
        Writes are refused while the group's consumer holds its lock (the DMA writer: busy).
    fields : tuple of BitField
        Its bit fields; none means the register is one number.
    constant : bool
        A read-only value fixed by the map itself (``reset``), the same in every build.
    """
    offset: int
    name: str
    width: int
    access: Access
    reset: int | None
    doc: str
    locked: bool = False
    fields: tuple[BitField, ...] = ()
    constant: bool = False

    def __post_init__(self):
        if self.width not in (32, 64):
            raise ValueError(f"{self.name}: width must be 32 or 64")
        if self.offset % (self.width // 8) or not 0 <= self.offset < BAR0_SIZE:
            raise ValueError(f"{self.name}: offset {self.offset:#x} misaligned or outside BAR0")
        if self.constant and (self.access is not Access.RO or self.reset is None):
            raise ValueError(f"{self.name}: a constant register is RO with a reset value")
        used = 0
        for f in self.fields:
            if f.offset + f.width > self.width:
                raise ValueError(f"{self.name}.{f.name}: bits {f.bits} outside a {self.width}-bit register")
            if used & f.mask:
                raise ValueError(f"{self.name}.{f.name}: bits {f.bits} overlap another field")
            used |= f.mask
        if len({f.name for f in self.fields}) != len(self.fields):
            raise ValueError(f"{self.name}: duplicate field names")
        if self.reset is not None and self.fields and self.reset & ~used:
            raise ValueError(f"{self.name}: reset {self.reset:#x} sets bits outside its fields")

    @property
    def attr(self) -> str:
        """Python/Amaranth identifier used for this register's ports."""
        return self.name.lower()

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    def field(self, name: str) -> BitField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def pack(self, **values: int) -> int:
        """The register value with these fields set (the others zero)."""
        word = 0
        for name, v in values.items():
            f = self.field(name)
            v = int(v)
            if not 0 <= v < 1 << f.width:
                raise ValueError(f"{self.name}.{name}: {v} does not fit {f.width} bits")
            word |= v << f.offset
        return word

    def unpack(self, value: int) -> dict[str, int]:
        """Field name -> value (an enum member where the field has one)."""
        out = {}
        for f in self.fields:
            v = (int(value) >> f.offset) & ((1 << f.width) - 1)
            out[f.name] = f.enum(v) if f.enum is not None and v in f.enum._value2member_map_ else v
        return out

    @functools.cached_property
    def flags(self) -> type[enum.IntFlag] | None:
        """An ``IntFlag`` of the register's one-bit fields (None if it has none)."""
        bits = {f.name: 1 << f.offset for f in self.fields if f.width == 1}
        if not bits:
            return None
        flags = enum.IntFlag(self.name.title().replace("_", ""), bits)
        flags.__doc__ = f"One-bit fields of {self.name} (generated from its BitFields)."
        return flags

    def layout(self):
        """The Amaranth shape of the register's value: a ``data.FlexibleLayout`` of its fields
        (holes read as zero), or ``unsigned(width)`` without fields."""
        from amaranth.hdl import unsigned
        from amaranth.lib import data

        if not self.fields:
            return unsigned(self.width)
        return data.FlexibleLayout(self.width, {f.attr: data.Field(f.shape(), f.offset) for f in self.fields})

    def init(self):
        """``reset`` as an initializer of :meth:`layout` (0 for a design-dependent reset)."""
        value = self.reset or 0
        if not self.fields:
            return value
        return {f.attr: (value >> f.offset) & ((1 << f.width) - 1) for f in self.fields}


@dataclass(frozen=True)
class RegGroup:
    """The registers one consumer owns; BAR0 gives each group one interface (its ``name``).

    Parameters
    ----------
    name : str
        Lower-case identifier: the BAR0 port of the group (``bar.dma``).
    regs : tuple of Reg
        Its registers, at absolute BAR0 offsets.
    doc : str
        Who consumes them.
    hold : bool
        The consumer can hold BAR0's request intake while a command's effect settles (its
        interface gets a ``hold`` input), so a read after a write sees the outcome.
    """
    name: str
    regs: tuple[Reg, ...]
    doc: str
    hold: bool = False

    def __post_init__(self):
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"group name {self.name!r} must be a lower-case identifier")


@dataclass(frozen=True)
class BusErrors:
    """Where the BAR0 block reports the accesses it refuses: one-bit fields of a W1C register
    (``bad_access``: unknown offset, write to a read-only register; ``locked``: a write refused
    by a lock) and a read-only counter it keeps itself (also counting the adapter's refusals),
    cleared with that register."""
    register: str
    bad_access: str
    locked: str
    counter: str


@dataclass(frozen=True)
class RegisterMap:
    """The composed BAR0 map: register groups, their registers, and where bus errors go."""
    groups: tuple[RegGroup, ...]
    bus_errors: BusErrors | None = None
    regs: tuple[Reg, ...] = field(init=False, repr=False)
    by_name: Mapping[str, Reg] = field(init=False, repr=False)
    by_offset: Mapping[int, Reg] = field(init=False, repr=False)
    group_of: Mapping[str, RegGroup] = field(init=False, repr=False)

    def __post_init__(self):
        by_name, by_offset, used, group_of, names = {}, {}, {}, {}, set()
        for g in self.groups:
            if g.name in names:
                raise ValueError(f"duplicate register group {g.name}")
            names.add(g.name)
            for r in g.regs:
                if r.name in by_name:
                    raise ValueError(f"duplicate register {r.name}")
                for dw in range(r.offset // 4, (r.offset + r.width // 8) // 4):
                    if dw in used:
                        raise ValueError(f"{r.name} overlaps {used[dw]}")
                    used[dw] = r.name
                by_name[r.name] = r
                by_offset[r.offset] = r
                group_of[r.name] = g
        object.__setattr__(self, "regs", tuple(sorted(by_name.values(), key=lambda r: r.offset)))
        object.__setattr__(self, "by_name", by_name)
        object.__setattr__(self, "by_offset", by_offset)
        object.__setattr__(self, "group_of", group_of)
        if self.bus_errors is not None:
            self._check_bus_errors(self.bus_errors)

    def _check_bus_errors(self, be: BusErrors) -> None:
        reg = self[be.register]
        if reg.access is not Access.W1C:
            raise ValueError(f"bus errors go to a W1C register, not {reg.access.value} {reg.name}")
        for name in (be.bad_access, be.locked):
            if reg.field(name).width != 1:
                raise ValueError(f"bus error field {reg.name}.{name} must be one bit")
        if self[be.counter].access is not Access.RO:
            raise ValueError(f"bus error counter {be.counter} must be RO")

    @classmethod
    def compose(cls, *groups: RegGroup, bus_errors: BusErrors | None = None) -> "RegisterMap":
        return cls(tuple(groups), bus_errors)

    def with_groups(self, *groups: RegGroup) -> "RegisterMap":
        """This map plus ``groups`` (checked like any map)."""
        return RegisterMap(self.groups + tuple(groups), self.bus_errors)

    def group(self, name: str) -> RegGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"no register group named {name!r}")

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
        """The word-level table: one row per register, by offset."""
        lines = ["| offset | name | group | bits | access | reset | meaning |",
                 "|---:|---|---|---:|---|---|---|"]
        for r in self.regs:
            reset = "design" if r.reset is None else f"`{r.reset:#x}`"
            access = r.access.value + (", locked" if r.locked else "") + (", constant" if r.constant else "")
            doc = r.doc + (" Fields below." if r.fields else "")
            lines.append(f"| `{r.offset:#05x}` | `{r.name}` | {self.group_of[r.name].name} | {r.width} "
                         f"| {access} | {reset} | {doc} |")
        return "\n".join(lines)

    def fields_markdown(self) -> str:
        """One bit-field table per register that has fields (bits not listed read as zero)."""
        out = []
        for r in self.regs:
            if not r.fields:
                continue
            out += [f"`{r.name}` (`{r.offset:#05x}`, {r.access.value})", "",
                    "| bits | field | meaning |", "|---:|---|---|"]
            for f in sorted(r.fields, key=lambda f: f.offset):
                doc = f.doc
                if f.enum is not None:
                    doc = doc.rstrip(".") + ". Values: " + ", ".join(f"{m.value} = {m.name}" for m in f.enum) + "."
                out.append(f"| {f.bits} | `{f.name}` | {doc} |")
            out.append("")
        return "\n".join(out).rstrip() + "\n"


def _flags(*specs: tuple[str, str]) -> tuple[BitField, ...]:
    """One-bit fields at bits 0, 1, 2, ... in the order given."""
    return tuple(BitField(name, i, 1, doc) for i, (name, doc) in enumerate(specs))


CONTROL = Reg(0x010, "CONTROL", 32, Access.CMD, 0,
              "Write: ENABLE=1 validates the configuration and starts, ENABLE=0 stops after the TLP in flight "
              "and the cursor write covering it; RESET=1 stops and clears counters, cursor-write count and "
              "sticky errors (entries stay in the BRAM ring). Read: ENABLE is 1 only while running.",
              fields=_flags(("ENABLE", "write 1: validate the configuration and start; 0: stop after the "
                                       "TLP in flight. Reads 1 only while running."),
                            ("RESET", "write 1: stop, then clear counters, cursor-write count and sticky "
                                      "errors (entries are kept). Reads 0.")))

STATUS = Reg(0x014, "STATUS", 32, Access.RO, None, "Writer state and link parameters.",
             fields=_flags(("ENABLED", "the writer is running (configuration accepted)"),
                           ("BUSY", "running, a TLP in flight, or the cursor line behind SENT"),
                           ("HOST_FULL", "entries wait because the host ring is full (doorbell lagging)"),
                           ("BUS_MASTER", "bus mastering enabled in the function's command register"),
                           ("CURSOR_CURRENT", "CURSOR_WRITTEN == SENT"))
             + (BitField("MPS", 8, 3, "negotiated max payload size code", enum=MaxPayload),))

ERROR = Reg(0x018, "ERROR", 32, Access.W1C, 0,
            "Sticky errors, write 1 to clear. An enable refused for a configuration error leaves the "
            "writer disabled and writes nothing to host memory.",
            fields=_flags(("RING_BASE_UNALIGNED", "RING_BASE not 4 KiB aligned"),
                          ("RING_SIZE_INVALID", "RING_SIZE zero, not a power of two, or above 2**26"),
                          ("CURSOR_ADDR_UNALIGNED", "CURSOR_ADDR not 64 B aligned"),
                          ("CURSOR_IN_RING", "the cursor line overlaps the host ring"),
                          ("LIMIT_INVALID", "BATCH_LIMIT or CURSOR_INTERVAL is zero"),
                          ("DOORBELL_RANGE", "doorbell backwards, beyond SENT, or SENT - DOORBELL > RING_SIZE "
                                             "at enable"),
                          ("CONFIG_LOCKED", "configuration write while BUSY: ignored"),
                          ("BAD_ACCESS", "unknown offset or read-only write"),
                          ("RING_WRAPS", "RING_BASE + RING_SIZE * 64 beyond 2**64: the ring wraps the "
                                         "address space"),
                          ("TLP_LOST", "TLPs were in flight when bus mastering was cleared, or the IP "
                                       "did not return a TLP's sequence number in time: the writer "
                                       "stopped without announcing them (the cursor line covers only "
                                       "entries written before; SENT - cursor entries are lost)")))

DEVICE = RegGroup("device", (
    Reg(0x000, "ID", 32, Access.RO, ID_VALUE, "Identity: 0x52474754 ('TGGR' in memory).", constant=True),
    Reg(0x004, "VERSION", 32, Access.RO, VERSION_VALUE, "Register map version.", constant=True,
        fields=(BitField("MINOR", 0, 16, "compatible additions"),
                BitField("MAJOR", 16, 16, "incompatible changes"))),
    Reg(0x008, "CAPS", 32, Access.RO, None, "Build parameters.",
        fields=(BitField("DATAPATH_BITS", 0, 16, "PCIe datapath bits (256 or 512)"),
                BitField("RING_DEPTH_LOG2", 16, 8, "log2 of the BRAM ring depth"))),
    Reg(0x00C, "SCRATCH", 32, Access.RW, 0, "Free scratch register (link and driver tests)."),
    Reg(0x01C, "BAD_ACCESSES", 32, Access.RO, 0,
        "Count of BAR0 accesses to unknown offsets, writes to read-only registers, unsupported requests."),
    Reg(0x080, "RQ_STALL_CYCLES", 64, Access.RO, 0, "Cycles the request interface held a beat not accepted."),
    Reg(0x090, "TIMESTAMP", 64, Access.RO, None, "Free-running cycle counter (user_clk)."),
), "The device itself: identity, build parameters, bus-level counters, the cycle counter.")

DMA = RegGroup("dma", (
    CONTROL, STATUS, ERROR,
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
    Reg(0x058, "SENT", 64, Access.RO, 0, "Sequence of the next entry to send: entries below it are in TLPs."),
    Reg(0x060, "CURSOR_WRITTEN", 64, Access.RO, 0, "Cursor value carried by the last cursor write."),
    Reg(0x068, "CURSOR_WRITES", 64, Access.RO, 0,
        "Cursor writes since enable (the line's `writes` field)."),
    Reg(0x070, "DATA_TLPS", 64, Access.RO, 0, "Data Memory Write TLPs sent."),
    Reg(0x078, "HOST_FULL_CYCLES", 64, Access.RO, 0, "Cycles with an entry ready but no room in the host ring."),
), "The DMA writer (hw/pcie_dma.py): configuration (locked while busy), commands, state, counters.",
    hold=True)

RING = RegGroup("ring", (
    Reg(0x050, "PUBLISHED", 64, Access.RO, 0, "Entries published into the BRAM ring since reset (its cursor)."),
    Reg(0x088, "RING_FULL_CYCLES", 64, Access.RO, 0, "Cycles the BRAM ring refused an entry (full)."),
    Reg(0x098, "RING_FILL", 32, Access.RO, 0, "Entries held in the BRAM ring."),
), "The BRAM ring (hw/ringbuf.py): its cursor, fill and refusals.")

REGMAP = RegisterMap.compose(
    DEVICE, DMA, RING,
    bus_errors=BusErrors(register="ERROR", bad_access="BAD_ACCESS", locked="CONFIG_LOCKED", counter="BAD_ACCESSES"),
)

Control = CONTROL.flags
Status = STATUS.flags
Error = ERROR.flags


def config_errors(ring_base: int, ring_size: int, cursor_addr: int, batch_limit: int = 1,
                  cursor_interval: int = 1, sent: int = 0, doorbell: int = 0) -> Error:
    """The ``ERROR`` bits an enable with this configuration sets (the validation rule the
    gateware, the golden model and the driver's host-side check share).

    Exact arithmetic (no 64-bit wrap): the ring is ``[ring_base, ring_base + ring_size * 64)``,
    the cursor line ``[cursor_addr, cursor_addr + 64)``. A check that needs another field to be
    valid is not reported when that field is not: the cursor overlap and the wrap need an
    aligned base and a valid size, the doorbell range a valid size.
    """
    m64 = (1 << 64) - 1
    err = Error(0)
    if ring_base % PAGE:
        err |= Error.RING_BASE_UNALIGNED
    if ring_size == 0 or ring_size & (ring_size - 1) or ring_size > MAX_RING_SIZE:
        err |= Error.RING_SIZE_INVALID
    if cursor_addr % ENTRY_BYTES:
        err |= Error.CURSOR_ADDR_UNALIGNED
    if not err & (Error.RING_BASE_UNALIGNED | Error.RING_SIZE_INVALID):
        ring_end = ring_base + ring_size * ENTRY_BYTES
        if ring_end > 1 << 64:
            err |= Error.RING_WRAPS
        if cursor_addr + ENTRY_BYTES > ring_base and cursor_addr < ring_end:
            err |= Error.CURSOR_IN_RING
    if batch_limit == 0 or cursor_interval == 0:
        err |= Error.LIMIT_INVALID
    if (sent - doorbell) & m64 > ring_size and not err & Error.RING_SIZE_INVALID:
        err |= Error.DOORBELL_RANGE
    return err
