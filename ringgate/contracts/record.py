"""Fixed-size little-endian records described once, in plain Python.

A :class:`Record` is the single source of truth for a structure that crosses the
hardware/software boundary. From it we generate the Amaranth ``data.StructLayout``
(gateware view), the numpy dtype (zero-copy host view), encoders/decoders between
Python dicts, bytes and the flat integer a simulator sees, and a Markdown table.

Fields are laid out in declaration order with natural alignment checked, not
inserted: a hidden padding byte would be a silent hardware/software mismatch.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

__all__ = ["Field", "Record"]


@dataclass(frozen=True)
class Field:
    name: str
    width: int                      # bits: 8, 16, 32 or 64
    signed: bool = False
    doc: str = ""
    enum: type[enum.IntEnum] | None = None

    def __post_init__(self):
        if self.width not in (8, 16, 32, 64):
            raise ValueError(f"field {self.name!r}: width {self.width} is not 8, 16, 32 or 64 bits")
        if self.enum is not None and self.signed:
            raise ValueError(f"field {self.name!r}: enum fields are unsigned")

    @property
    def nbytes(self) -> int:
        return self.width // 8

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def np_format(self) -> str:
        return f"<{'i' if self.signed else 'u'}{self.nbytes}"


@dataclass(frozen=True)
class Record:
    name: str
    size: int                       # bytes
    fields: tuple[Field, ...]
    doc: str = ""
    offsets: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        offsets, pos, names = {}, 0, set()
        for f in self.fields:
            if f.name in names:
                raise ValueError(f"{self.name}: duplicate field {f.name!r}")
            names.add(f.name)
            if pos % f.nbytes:
                raise ValueError(f"{self.name}.{f.name}: offset {pos} breaks natural alignment")
            offsets[f.name] = pos
            pos += f.nbytes
        if pos != self.size:
            raise ValueError(f"{self.name}: fields cover {pos} bytes, record is {self.size}")
        object.__setattr__(self, "offsets", offsets)

    # -- generated views -------------------------------------------------------------

    def dtype(self) -> np.dtype:
        return np.dtype({
            "names": [f.name for f in self.fields],
            "formats": [f.np_format for f in self.fields],
            "offsets": [self.offsets[f.name] for f in self.fields],
            "itemsize": self.size,
        })

    def layout(self):
        """The Amaranth ``data.StructLayout``; bit 0 is bit 0 of byte 0 (little-endian)."""
        from amaranth.hdl import signed, unsigned
        from amaranth.lib import data

        # Enum fields stay plain unsigned: the gateware moves them, it never decodes them.
        return data.StructLayout({f.name: signed(f.width) if f.signed else unsigned(f.width)
                                  for f in self.fields})

    # -- codecs ----------------------------------------------------------------------

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def check(self, values: Mapping[str, int]) -> None:
        unknown = set(values) - {f.name for f in self.fields}
        if unknown:
            raise KeyError(f"{self.name}: unknown field(s) {sorted(unknown)}")
        for f in self.fields:
            v = int(values.get(f.name, 0))
            if not f.min <= v <= f.max:
                raise ValueError(f"{self.name}.{f.name}={v} outside [{f.min}, {f.max}]")

    def to_int(self, values: Mapping[str, int]) -> int:
        """The flat unsigned integer a simulator drives on a signal of :meth:`layout`."""
        self.check(values)
        acc = 0
        for f in self.fields:
            v = int(values.get(f.name, 0)) & ((1 << f.width) - 1)
            acc |= v << (8 * self.offsets[f.name])
        return acc

    def from_int(self, value: int) -> dict[str, int]:
        out = {}
        for f in self.fields:
            v = (value >> (8 * self.offsets[f.name])) & ((1 << f.width) - 1)
            if f.signed and v >> (f.width - 1):
                v -= 1 << f.width
            out[f.name] = v
        return out

    def encode(self, values: Mapping[str, int]) -> bytes:
        return self.to_int(values).to_bytes(self.size, "little")

    def decode(self, raw: bytes | bytearray | memoryview) -> dict[str, int]:
        if len(raw) != self.size:
            raise ValueError(f"{self.name}: need {self.size} bytes, got {len(raw)}")
        return self.from_int(int.from_bytes(raw, "little"))

    def array(self, rows: Iterable[Mapping[str, int]]) -> np.ndarray:
        rows = list(rows)
        for r in rows:
            self.check(r)
        arr = np.zeros(len(rows), dtype=self.dtype())
        for f in self.fields:
            arr[f.name] = [int(r.get(f.name, 0)) for r in rows]
        return arr

    # -- documentation ---------------------------------------------------------------

    def markdown(self) -> str:
        lines = [f"| offset | bytes | field | type | meaning |", "|---:|---:|---|---|---|"]
        for f in self.fields:
            kind = f"{'i' if f.signed else 'u'}{f.width}"
            doc = f.doc
            if f.enum is not None:
                doc += " (" + ", ".join(f"{m.name}={m.value}" for m in f.enum) + ")"
            lines.append(f"| {self.offsets[f.name]} | {f.nbytes} | `{f.name}` | {kind} | {doc} |")
        return "\n".join(lines)

