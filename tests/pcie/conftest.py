"""Shared Verilator builds of the PCIe top (one per datapath width, cached by content hash)."""
import pytest

from sim.verilator import build

RING_DEPTH = 256


def pcie_build(width):
    from hw.pcie.top import PcieTop
    return build(PcieTop(width, RING_DEPTH), f"pcie_top_{width}")


@pytest.fixture(scope="session")
def pcie_build_256():
    return pcie_build(256)


@pytest.fixture(scope="session")
def pcie_build_512():
    return pcie_build(512)
