"""One register interface per consumer, generated from a group of the BAR0 register map.

:func:`register_signature` turns a :class:`~ringgate.contracts.regmap.RegGroup` into a
``wiring.Signature`` seen from the BAR0 block (which has it as an ``Out`` port named after the
group); the consumer has the same signature as an ``In`` port, and a top joins the two with
``wiring.connect``. A mismatch (a register missing, a width or field layout that differs) is
an elaboration error there, not a simulation bug.

Members per register (``<n>`` is the register name in lower case; values carry the
register's ``data`` layout when it has bit fields, so consumers read and drive fields by name):

- RO:  ``<n>`` In -- the value the consumer presents.
- RW:  ``<n>`` Out (the stored value) and ``<n>_w`` Out (one-cycle strobe in the first cycle
  the new value is out; for 64-bit registers, after the high half or the whole register is written).
- CMD: ``<n>`` Out (the written value) and ``<n>_w`` Out (strobe); ``<n>_r`` In (read value).
- W1C: ``<n>`` Out (the sticky bits), ``<n>_set`` In (bits to set), ``<n>_clear`` In (clear all).

and per group: ``lock`` In (if it has locked registers: their writes are refused while it is
high) and ``hold`` In (if the group says so: BAR0 takes no request while it is high).
Registers the BAR0 block answers itself (constants, build parameters, its own counters) get
no member.
"""
from __future__ import annotations

from collections.abc import Collection

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.regmap import Access, RegGroup

__all__ = ["register_signature"]


def register_signature(group: RegGroup, *, internal: Collection[str] = ()) -> wiring.Signature:
    """The interface of ``group`` as the BAR0 block drives it; registers named in ``internal``
    are left out (the BAR0 block answers them itself)."""
    members = {}
    for r in group.regs:
        if r.name in internal or r.constant:
            continue
        a, shape = r.attr, r.layout()
        if r.access is Access.RO:
            members[a] = In(shape)
        elif r.access is Access.RW:
            members[a] = Out(shape, init=r.init())
            members[a + "_w"] = Out(1)
        elif r.access is Access.CMD:
            members[a] = Out(shape)
            members[a + "_w"] = Out(1)
            members[a + "_r"] = In(shape)
        elif r.access is Access.W1C:
            members[a] = Out(shape)
            members[a + "_set"] = In(shape)
            members[a + "_clear"] = In(1)
    if any(r.locked for r in group.regs):
        members["lock"] = In(1)
    if group.hold:
        members["hold"] = In(1)
    return wiring.Signature(members)
