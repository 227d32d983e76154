"""amaranth.sim running of one component with one testbench."""
from amaranth.sim import Simulator


def simulate(dut, bench, *processes):
    sim = Simulator(dut)
    sim.add_clock(4e-9)
    sim.add_testbench(bench)
    for p in processes:
        sim.add_process(p)
    sim.run()
