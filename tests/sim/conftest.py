"""Shared Verilator builds of the PCIe top (one per datapath width, cached by content hash)."""
import pytest

from ringgate.sim.builds import pcie_top


@pytest.fixture(scope="session")
def pcie_build_256():
    return pcie_top(256)


@pytest.fixture(scope="session")
def pcie_build_512():
    return pcie_top(512)
