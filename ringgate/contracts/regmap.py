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
- Unknown offsets (holes between and after the groups) **read as zero** and **ignore writes**; they
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

from .pcie import MAX_PAYLOADS, PAGE, mps_code
from .registers import (BAR0_SIZE, Access, BitField, BusErrors, Reg, RegGroup, RegisterMap,
                        one_bit_fields as _flags)
from .datagram import INGRESS

__all__ = ["Access", "BitField", "Reg", "RegGroup", "BusErrors", "RegisterMap", "REGMAP",
           "DEVICE", "DMA", "RING", "INGRESS", "MaxPayload", "Control", "Status", "Error",
           "ID_VALUE", "VERSION_VALUE", "BAR0_SIZE", "MAX_RING_SIZE", "ENTRY_BYTES", "config_errors"]

ID_VALUE = 0x5247_4754            # "TGGR" in memory order: 'R' 'G' 'G' 'T' read as a u32
VERSION_VALUE = 0x0001_0002       # major 1, minor 2: 1.1 (the ingress group) plus ERROR.RING_WRAPS, ERROR.TLP_LOST
MAX_RING_SIZE = 1 << 26           # entries (4 GiB of host memory)
ENTRY_BYTES = 64


MaxPayload = enum.IntEnum("MaxPayload", {f"B{b}": mps_code(b) for b in MAX_PAYLOADS})
MaxPayload.__doc__ = "Max payload size codes of the PCIe Device Control register (``cfg_max_payload``)."


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
    DEVICE, DMA, RING, INGRESS,
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
