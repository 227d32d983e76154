"""Benches of the PCIe block: the cocotbext-pcie environment and tests, the amaranth.sim harness."""
