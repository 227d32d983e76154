"""The fast simulation level: Verilated models driven by a generated C++ main, no cocotb in the loop."""
