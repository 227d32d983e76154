"""The driver's names for the BAR0 register-map contract (``ringgate.contracts.regmap``).

Everything in the driver speaks register *names* of :data:`REGMAP` and field names of its
registers; offsets, widths, bit positions and the 32-bit access order of 64-bit registers
come from the contract and the accessors in :mod:`.registers`, so this module only gives the
names the driver uses one place to live.
"""
from __future__ import annotations

from ringgate.contracts.regmap import (BAR0_SIZE, ID_VALUE, MAX_RING_SIZE, REGMAP, VERSION_VALUE, Access,
                                       Control, Error, MaxPayload, Reg, RegisterMap, Status)

from .registers import ConfigError, Registers, check_config, decode_errors

__all__ = ["R", "REGMAP", "Access", "Control", "Status", "Error", "MaxPayload", "Reg", "RegisterMap",
           "Registers", "ConfigError", "check_config", "decode_errors", "describe_errors",
           "ID_VALUE", "VERSION_VALUE", "BAR0_SIZE", "MAX_RING_SIZE", "LOCKED"]


class R:
    """Register names (the contract's) as attributes: a misspelt name is an AttributeError in
    Python, not a silent access to offset 0 on a board."""


for _reg in REGMAP:
    setattr(R, _reg.name, _reg.name)

LOCKED = frozenset(r.name for r in REGMAP if r.locked)


def describe_errors(bits: int) -> str:
    names = decode_errors(bits)
    unknown = bits & ~int(sum(Error))
    if unknown:
        names.append(f"unknown bits {unknown:#x}")
    return ", ".join(names) or "none"
