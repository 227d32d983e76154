"""The driver's view of BAR0: registers by name, bound to the register-map contract.

Everything in the driver (model, consumer, backends) speaks register *names*. This module
is the only place that knows where a name lives (offset, width, access), so binding to
the generated map of ``ringgate.contracts.regmap`` is a change here and nowhere else.

While that contract is not in the tree, :data:`PROVISIONAL` describes the map the driver
expects (the registers issue 3 asks for). :func:`register_map` prefers the contract.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol

__all__ = ["Access", "Reg", "RegisterMap", "Registers", "PROVISIONAL", "register_map",
           "Control", "Error", "IDENTITY", "VERSION", "R"]


class Access(enum.Enum):
    RO = "ro"          # read only; writes ignored
    RW = "rw"
    W1C = "w1c"        # sticky bits, a 1 written clears the bit
    WO = "wo"          # write-only strobe bits read back as 0


@dataclass(frozen=True)
class Reg:
    offset: int
    name: str
    width: int          # 32 or 64 bits
    access: Access
    reset: int = 0
    doc: str = ""

    def __post_init__(self):
        if self.width not in (32, 64):
            raise ValueError(f"register {self.name}: width {self.width} is not 32 or 64")
        if self.offset % (self.width // 8):
            raise ValueError(f"register {self.name}: offset {self.offset:#x} not {self.width}-bit aligned")

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1


class RegisterMap:
    """Name -> :class:`Reg`, with overlap and duplicate checks."""

    def __init__(self, regs: Iterable[Reg], *, source: str = ""):
        self.regs = tuple(sorted(regs, key=lambda r: r.offset))
        self.source = source
        self.by_name: dict[str, Reg] = {}
        end = 0
        for r in self.regs:
            if r.name in self.by_name:
                raise ValueError(f"register map: duplicate register {r.name!r}")
            if r.offset < end:
                raise ValueError(f"register map: {r.name} at {r.offset:#x} overlaps the previous register")
            end = r.offset + r.width // 8
            self.by_name[r.name] = r
        self.size = end

    def __getitem__(self, name: str) -> Reg:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no register named {name!r} in the register map "
                           f"({self.source or 'provisional'})") from None

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def __iter__(self):
        return iter(self.regs)

    def at(self, offset: int) -> Reg | None:
        for r in self.regs:
            if r.offset <= offset < r.offset + r.width // 8:
                return r
        return None


class Registers(Protocol):
    """What every backend gives the driver: BAR0 registers by name."""

    def read(self, name: str) -> int: ...
    def write(self, name: str, value: int) -> None: ...


class R:
    """Register names used by the driver (one place to rename when binding to the contract)."""
    ID = "id"
    VERSION = "version"
    CONTROL = "control"
    RING_BASE = "ring_base"
    RING_SIZE = "ring_size"
    CURSOR_ADDR = "cursor_addr"
    BATCH_LIMIT = "batch_limit"
    DOORBELL = "doorbell"
    PUBLISHED = "published"
    SENT = "sent"
    CURSOR = "cursor"
    ERRORS = "errors"
    TIMESTAMP = "timestamp"
    MAX_PAYLOAD = "max_payload"
    DATA_TLPS = "data_tlps"
    CURSOR_WRITES = "cursor_writes"
    DROPPED = "dropped"
    HOST_FULL_CYCLES = "host_full_cycles"
    EPOCH = "epoch"


class Control(enum.IntFlag):
    ENABLE = 1 << 0
    RESET = 1 << 1          # strobe: clears ring, sequences, counters and errors; keeps nothing


class Error(enum.IntFlag):
    """Sticky error bits (``errors``, write 1 to clear). Any bit set stops the DMA."""
    RING_BASE_UNALIGNED = 1 << 0      # ring base not 4 KiB aligned
    RING_SIZE_INVALID = 1 << 1        # ring size not a power of two (or 0 / too large)
    CURSOR_ADDR_UNALIGNED = 1 << 2    # cursor line not 64 B aligned
    ENABLE_UNCONFIGURED = 1 << 3      # enable while ring base / size / cursor address unset
    CONFIG_WHILE_ENABLED = 1 << 4     # ring base / size / cursor address written while enabled
    DOORBELL_INVALID = 1 << 5         # doorbell behind the previous one or ahead of what was sent
    BATCH_LIMIT_INVALID = 1 << 6      # batch limit 0


IDENTITY = 0x52_47_41_54              # "RGAT" little-endian ASCII: b"TAGR" .. read as 0x52474154
VERSION = 0x0001_0000

_P = Access
PROVISIONAL = RegisterMap([
    Reg(0x000, R.ID, 32, _P.RO, IDENTITY, "identity"),
    Reg(0x004, R.VERSION, 32, _P.RO, VERSION, "major.minor (16.16)"),
    Reg(0x008, R.CONTROL, 32, _P.RW, 0, "bit 0 enable, bit 1 reset (strobe)"),
    Reg(0x00C, R.ERRORS, 32, _P.W1C, 0, "sticky errors, see Error"),
    Reg(0x010, R.RING_BASE, 64, _P.RW, 0, "bus address of the host ring (4 KiB aligned)"),
    Reg(0x018, R.RING_SIZE, 32, _P.RW, 0, "host ring size in entries (power of two)"),
    Reg(0x01C, R.BATCH_LIMIT, 32, _P.RW, 64, "max entries per data TLP (>= 1)"),
    Reg(0x020, R.CURSOR_ADDR, 64, _P.RW, 0, "bus address of the 64 B cursor line"),
    Reg(0x028, R.DOORBELL, 64, _P.RW, 0, "host consumed sequence: entries [0, doorbell) are free"),
    Reg(0x030, R.PUBLISHED, 64, _P.RO, 0, "entries published into the BRAM ring"),
    Reg(0x038, R.SENT, 64, _P.RO, 0, "entries written to the host ring"),
    Reg(0x040, R.CURSOR, 64, _P.RO, 0, "last cursor value written to the cursor line"),
    Reg(0x048, R.TIMESTAMP, 64, _P.RO, 0, "free-running cycle counter"),
    Reg(0x050, R.DATA_TLPS, 64, _P.RO, 0, "data Memory Write TLPs issued"),
    Reg(0x058, R.CURSOR_WRITES, 64, _P.RO, 0, "cursor-line Memory Write TLPs issued"),
    Reg(0x060, R.DROPPED, 64, _P.RO, 0, "entries refused because the BRAM ring was full"),
    Reg(0x068, R.HOST_FULL_CYCLES, 64, _P.RO, 0, "cycles the DMA waited on a full host ring"),
    Reg(0x070, R.MAX_PAYLOAD, 32, _P.RO, 256, "negotiated max payload size in bytes"),
    Reg(0x074, R.EPOCH, 32, _P.RO, 0, "number of resets since power-up"),
], source="sw.driver.regs.PROVISIONAL")


def register_map() -> RegisterMap:
    """The register map the driver binds to: the contract if present, else the provisional one."""
    try:
        from ringgate.contracts import regmap as contract   # noqa: F401
    except ImportError:
        return PROVISIONAL
    return _from_contract(contract)


def _from_contract(contract) -> RegisterMap:   # pragma: no cover - bound when the contract lands
    return PROVISIONAL
