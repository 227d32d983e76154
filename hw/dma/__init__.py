"""The named parts of the DMA writer (``hw/pcie_dma.py``), one concern each.

- :mod:`.config` -- ``ConfigCheck``: validation of the configuration at enable (three
  register stages of wide compares, the error bits by field name).
- :mod:`.credit` -- ``HostCredit``: the host's doorbell (latch, range check, commit) and the
  room counter it feeds.
- :mod:`.limits` -- ``SplitLimits``: the per-TLP limits in two register stages, and the
  entries the next TLP may carry.
- :mod:`.skid` -- ``RequestSkid``: output register plus skid register, so the writer's
  decisions never read the downstream ``ready``.
- :mod:`.cursor` -- ``CursorEmitter``: the cursor line, the write count, and when one is owed.

The writer itself keeps the hand one-hot state machine that sequences them.
"""
from ringgate.contracts.regmap import MAX_RING_SIZE

ROOM_BITS = MAX_RING_SIZE.bit_length()     # room and slot counters: 0 .. 2**26
