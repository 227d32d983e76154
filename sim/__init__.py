"""Simulation: Verilator builds and cocotb benches of the gateware, the co-simulation device
backend, the throughput-level harness and the traffic generator."""
