"""AXI4-Stream as the UltraScale+ PCIe hard block speaks it, and the IP-named flat ports made from it.

The adapters (``usp.py``) have one :class:`AxiStreamSignature` port per IP interface (RQ, CQ,
CC); the top (``top.py``) must present those interfaces as flat ports with the IP's own
names (``s_axis_rq_tdata`` ...), which cocotbext-axi binds by prefix and a board top
connects to the ``pcie4_uscale_plus`` instance by name. :func:`flat_members` generates those
ports from a signature, and :func:`connect_flat` joins them to an interface, so a width or
member mismatch between adapter and top is an elaboration error.
"""
from __future__ import annotations

from amaranth.hdl import Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AxiStreamSignature", "RQ_SEQ_NUM", "flat_members", "connect_flat"]


class AxiStreamSignature(wiring.Signature):
    """AXI4-Stream, seen from the transmitter (``tready`` flows back).

    Parameters
    ----------
    data_width : int
        ``tdata`` bits.
    user_width : int
        ``tuser`` bits (interface and width dependent on the PCIe block: PG213 tables).
    keep_width : int, optional
        ``tkeep`` bits; the PCIe block keeps one bit per dword (``data_width // 32``).

    Members
    -------
    tdata : Out(data_width)
    tkeep : Out(keep_width)
        Valid dwords of the beat.
    tlast : Out(1)
        Last beat of a packet.
    tuser : Out(user_width)
        Sideband (byte enables, SOP/EOP, sequence numbers...).
    tvalid : Out(1)
    tready : In(1)
    """

    def __init__(self, data_width: int, user_width: int, *, keep_width: int | None = None):
        if not isinstance(data_width, int) or data_width <= 0 or data_width % 32:
            raise TypeError(f"AXI-Stream data width must be a positive multiple of 32, not {data_width!r}")
        if not isinstance(user_width, int) or user_width < 0:
            raise TypeError(f"AXI-Stream user width must be a non-negative integer, not {user_width!r}")
        self.data_width = data_width
        self.user_width = user_width
        self.keep_width = data_width // 32 if keep_width is None else keep_width
        super().__init__({
            "tdata": Out(data_width), "tkeep": Out(self.keep_width), "tlast": Out(1),
            "tuser": Out(user_width), "tvalid": Out(1), "tready": In(1),
        })

    def __eq__(self, other):
        return (type(other) is type(self) and (self.data_width, self.user_width, self.keep_width)
                == (other.data_width, other.user_width, other.keep_width))

    def __hash__(self):
        return hash((type(self), self.data_width, self.user_width, self.keep_width))

    def __repr__(self):
        return f"AxiStreamSignature({self.data_width}, {self.user_width}, keep_width={self.keep_width})"


# The requester sequence numbers the block returns when a TLP has left it (PG213
# ``pcie_rq_seq_num0/1``, ``pcie_rq_seq_num_vld0/1``), seen from the block.
RQ_SEQ_NUM = wiring.Signature({
    "seq_num0": Out(6), "seq_num_vld0": Out(1), "seq_num1": Out(6), "seq_num_vld1": Out(1),
})


def flat_members(prefix: str, member: wiring.Member) -> dict[str, wiring.Member]:
    """``{prefix_name: port}`` for each port of ``member`` (an ``In``/``Out`` of a signature),
    with the directions a component having ``member`` as a port would see."""
    out = {}
    # ``member.signature`` is already flipped for an ``In`` member: its flows are the port's.
    for (name,), m in member.signature.members.flatten():
        if m.is_signature:
            raise TypeError(f"{prefix}: nested interfaces cannot be flattened ({name})")
        out[f"{prefix}_{name}"] = (Out if m.flow is Out else In)(m.shape, init=m.init)
    return out


def connect_flat(m, top, prefix: str, iface) -> None:
    """Drive ``top``'s flat ports ``prefix_*`` (made by :func:`flat_members`) from the inner
    interface ``iface`` of the same signature, and ``iface``'s inputs from them."""
    for (name,), member in iface.signature.members.flatten():
        port, inner = getattr(top, f"{prefix}_{name}"), Value.cast(getattr(iface, name))
        if member.flow is Out:
            m.d.comb += port.eq(inner)
        else:
            m.d.comb += inner.eq(port)
