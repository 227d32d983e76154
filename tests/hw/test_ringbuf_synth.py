"""yosys synth_xilinx (xcup) report of the ring: the depth-1024 budget, and the depth walker."""
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ringgate.hw.ringbuf import RingBuffer
from ringgate.contracts.entry import ENTRY
from ringgate.app.synth import deepest_path, fanout, logic_depth, synthesize


@pytest.mark.slow
@pytest.mark.parametrize("bypass", [True, False])
def test_ring_1024_meets_budget(tmp_path, bypass):
    r = synthesize(RingBuffer(1024, ENTRY.layout(), bypass=bypass), "ringbuf1024", workdir=tmp_path)
    s = r.summary()
    if not bypass:
        assert r.luts <= 100, s       # no write-through register and mux per payload bit
    assert r.lut_levels <= 5, s
    assert r.luts <= 600, s
    assert r.lutram == 0 and r.bram18_equivalent >= 29, s      # 1024 x 512 bits in block RAM
    assert r.ffs >= 3 * 64, s                                   # cursor, consumed, full_cycles


def _cell(t, ins, outs):
    return {"type": t, "port_directions": {**{p: "input" for p in ins}, **{p: "output" for p in outs}},
            "connections": {**ins, **outs}}


def test_depth_walker_counts_levels_between_registers():
    # ff0 -> LUT -> LUT -> MUXF7 -> ff1 ; ff0 -> CARRY4 -> CARRY4 -> LUT -> ff1 ; a -> LUT (1 level)
    cells = {
        "ff0": _cell("FDRE", {"D": [20]}, {"Q": [2]}),
        "l1": _cell("LUT2", {"I0": [2], "I1": ["0"]}, {"O": [3]}),
        "l2": _cell("LUT3", {"I0": [3], "I1": [2], "I2": [2]}, {"O": [4]}),
        "m": _cell("MUXF7", {"I0": [4], "I1": [3], "S": [2]}, {"O": [5]}),
        "c1": _cell("CARRY4", {"CI": [2]}, {"CO": [6]}),
        "c2": _cell("CARRY4", {"CI": [6]}, {"CO": [7]}),
        "l3": _cell("LUT1", {"I0": [7]}, {"O": [8]}),
        "ff1": _cell("FDRE", {"D": [5]}, {"Q": [9]}),
        "ff2": _cell("FDRE", {"D": [8]}, {"Q": [10]}),
        "l4": _cell("LUT1", {"I0": [9]}, {"O": [20]}),
    }
    assert logic_depth({"modules": {"t": {"cells": cells}}}, "t") == (3, 2)


def test_fanout_follows_a_port_through_logic_to_flip_flop_pins():
    # rdy -> ff0.CE ; rdy -> LUT -> ff1.CE, ff2.D ; rdy -> CARRY -> LUT -> ram ; ff2 -> ff3 (not reached)
    cells = {
        "ff0": _cell("FDRE", {"CE": [2], "D": [9]}, {"Q": [10]}),
        "l1": _cell("LUT2", {"I0": [2], "I1": [10]}, {"O": [3]}),
        "ff1": _cell("FDRE", {"CE": [3], "D": [10]}, {"Q": [11]}),
        "ff2": _cell("FDRE", {"D": [3]}, {"Q": [12]}),
        "c": _cell("CARRY8", {"CI": [2]}, {"CO": [4]}),
        "l2": _cell("LUT1", {"I0": [4]}, {"O": [5]}),
        "ram": _cell("RAMB18E2", {"WEA": [5]}, {"DOUTADOUT": [13]}),
        "ff3": _cell("FDRE", {"D": [12]}, {"Q": [14]}),
    }
    net = {"modules": {"t": {"cells": cells, "ports": {"rdy": {"direction": "input", "bits": [2]}}}}}
    assert fanout(net, "t", "rdy") == {"direct": 3, "ff": 3, "CE": 2, "D": 1, "ram": 1}


class Compare(wiring.Component):
    def __init__(self, width):
        super().__init__({"a": In(width), "b": In(width), "eq": Out(1)})

    def elaborate(self, platform):
        m = Module()
        a, b = Signal.like(self.a), Signal.like(self.b)
        m.d.sync += [a.eq(self.a), b.eq(self.b), self.eq.eq(a == b)]
        return m


def test_wide_compare_is_deeper_than_narrow(tmp_path):
    """The reason the ring decides on small counters: a 64-bit compare costs levels."""
    wide = synthesize(Compare(64), "cmp64", workdir=tmp_path / "w")
    narrow = synthesize(Compare(3), "cmp3", workdir=tmp_path / "n")
    assert narrow.lut_levels == 1           # 6 inputs: one LUT6
    assert wide.lut_levels >= 3             # 128 inputs: a tree of LUTs


def test_deepest_path_is_traced_from_its_start():
    cells = {
        "ff0": _cell("FDRE", {"D": [20]}, {"Q": [2]}),
        "l1": _cell("LUT2", {"I0": [2], "I1": ["0"]}, {"O": [3]}),
        "l2": _cell("LUT3", {"I0": [3], "I1": [2], "I2": [2]}, {"O": [4]}),
        "ff1": _cell("FDRE", {"D": [4]}, {"Q": [20]}),
    }
    netlist = {"modules": {"t": {"cells": cells, "netnames": {"q0": {"bits": [2]}, "mid": {"bits": [3]}}}}}
    path = deepest_path(netlist, "t")
    assert [t for t, _ in path] == ["LUT2", "LUT3"]
    assert path[0][1] == ["q0"] and path[1][1] == ["mid", "q0"]
