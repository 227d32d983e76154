"""Co-simulation bridge: the cocotbext-pcie simulation of hw/pcie/top.py as a device that
another process drives with the unchanged host driver (docs/cosim.md).

- ``shm.py``: the shared files: host memory (the RootComplex's memory region *is* the file)
  and the register mailbox (BAR0 read32/write32 from another process).
- ``tb_cosim.py``: the cocotb side: RootComplex + UltraScale+ model, mailbox server, traffic
  feeder, RQ monitor with exact cycle stamps, golden-model scoreboard of every Memory Write.
- ``session.py``: start / stop a co-simulation in a subprocess (``CoSim``).
"""
