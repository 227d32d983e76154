"""Where the cursor line's ``timestamp`` is taken: when the DMA writer queues the cursor write,
not when the TLP reaches the IP (the contract's label, ringgate/contracts/entry.py). Cycle counts
are exact (amaranth.sim; the harness's timestamp input is the cycle number)."""
from ringgate.contracts.entry import CURSOR_LINE
from ringgate.sim.pcie.dma_bench import Scenario

STALL = 40


def _one_entry(ready=None):
    s = Scenario(n=1, size=64, max_cycles=400, ready=ready).run()
    s.check_rules()
    data, cursor = s.data_tlps()[0], [t for t in s.tlps if t.cursor][0]
    return s.take_cycles[0], data.first_cycle, cursor.first_cycle, CURSOR_LINE.from_int(cursor.lines[0])["timestamp"]


def test_cursor_timestamp_is_taken_when_the_write_is_queued():
    take, data_at, cursor_at, stamp = _one_entry()
    # Idle writer: the cursor is queued right behind the entry's data line, one cycle before that
    # line reaches the request stream, and leaves one cycle after it.
    assert (data_at - take, stamp - take, cursor_at - take) == (1, 0, 2)

    def stall(cycle):                    # RQ refuses every line for STALL cycles after the take
        return not take < cycle <= take + STALL

    take_b, data_b, cursor_b, stamp_b = _one_entry(stall)
    assert take_b == take                # the same start; the stall comes after the entry left the ring
    assert stamp_b - take_b == stamp - take, "the timestamp moved with the back-pressure"
    assert cursor_b - stamp_b > STALL     # the cursor TLP reached RQ a whole stall later than its stamp
