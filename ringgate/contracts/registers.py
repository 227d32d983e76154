"""The machinery of BAR0 register maps: registers with bit fields, register groups, composed maps.

A register map is data (:class:`RegisterMap`): register groups (:class:`RegGroup`, one per
consumer of the registers), each register (:class:`Reg`) with its bit fields
(:class:`BitField`). The map of this design is composed in :mod:`.regmap` from the groups the
blocks define in their own contract modules (the DMA writer and the ring there, the Ethernet
ingress in :mod:`.datagram`); the classes live here so a block's contract module can define
its group without importing the composed map.
"""
from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Access", "BitField", "Reg", "RegGroup", "BusErrors", "RegisterMap", "BAR0_SIZE", "one_bit_fields"]

BAR0_SIZE = 4096

class Access(enum.Enum):
    RO = "RO"        # read-only, value from hardware
    RW = "RW"        # read/write storage; hardware gets the value and a write strobe
    CMD = "CMD"      # write = command to hardware (strobe + data); read = hardware state
    W1C = "W1C"      # sticky bits set by hardware, cleared by writing 1


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

    @property
    def field_mask(self) -> int:
        """The bits that hold something: its fields' bits, or every bit of a register without
        fields. A register stores only these; the others read 0 (the docs' tables say so)."""
        if not self.fields:
            return self.mask
        out = 0
        for f in self.fields:
            out |= f.mask
        return out

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

    def without(self, *names: str) -> "RegisterMap":
        """This map less the groups named ``names`` (a block synthesised or simulated without them)."""
        missing = set(names) - {g.name for g in self.groups}
        if missing:
            raise KeyError(f"no register group named {sorted(missing)[0]!r}")
        return RegisterMap(tuple(g for g in self.groups if g.name not in names), self.bus_errors)

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


def one_bit_fields(*specs: tuple[str, str]) -> tuple[BitField, ...]:
    """One-bit fields at bits 0, 1, 2, ... in the order given."""
    return tuple(BitField(name, i, 1, doc) for i, (name, doc) in enumerate(specs))
