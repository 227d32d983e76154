"""The register mailbox protocol (sim/cosim/shm.py) and SimDevice, without a simulator: a thread
plays the simulation's server against the golden model's BAR semantics."""
import multiprocessing as mp
import threading
import time

import numpy as np
import pytest

from ringgate.contracts.regmap import ID_VALUE, REGMAP, Error
from ringgate.sim.cosim.shm import (H_ALLOC, H_HEAD, H_STATE, H_TAIL, HOST_BASE, SLOTS, Mailbox, MailboxTimeout, Op,
                           SimStopped, State)
from ringgate.sw.driver.device import map_shared
from ringgate.model.hostmem import HostMemory
from ringgate.model.fpga import FpgaModel
from ringgate.sim.cosim.device import SimDevice


class FakeSim:
    """The mailbox server loop of tb_cosim, executing requests on the model's 1-DW BAR."""

    def __init__(self, d, host_bytes=1 << 20, delay=0.0):
        self.mb = Mailbox.create(d / "mailbox", host_bytes=host_bytes)
        map_shared(d / "hostmem", host_bytes, create=True).close()
        self.model = FpgaModel(HostMemory())
        self.log = []
        self.delay = delay
        self.stop = False
        self.paused = threading.Event()
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.mb[H_STATE] = State.READY
        self.t.start()

    def serve(self):
        while not self.stop:
            if self.paused.is_set():
                time.sleep(1e-4)
                continue
            for idx, op, off, value in list(self.mb.pending()):
                if self.delay:
                    time.sleep(self.delay)
                self.log.append((op, off, value))
                if op == Op.READ32:
                    self.mb.complete(idx, self.model.read32(off))
                else:
                    self.model.write32(off, value)
                    self.mb.complete(idx)
            time.sleep(1e-5)

    def close(self):
        self.stop = True
        self.t.join()


@pytest.fixture
def fake(tmp_path):
    f = FakeSim(tmp_path)
    yield f
    f.close()


def test_cosim_mailbox_reads_writes_in_order(fake, tmp_path):
    dev = SimDevice(tmp_path, timeout=5)
    assert dev.read32(REGMAP.offset("ID")) == ID_VALUE
    for v in (0, 1, 0xDEAD_BEEF, 0xFFFF_FFFF):
        dev.write32(REGMAP.offset("SCRATCH"), v)          # posted: no wait ...
        assert dev.read32(REGMAP.offset("SCRATCH")) == v  # ... but a read never passes it
    dev.write("RING_BASE", 0x1234_5678_9ABC_D000)         # 64-bit: low half, then high half
    assert dev.read("RING_BASE") == 0x1234_5678_9ABC_D000
    assert [(op, off) for op, off, _ in fake.log[-4:]] == [
        (Op.WRITE32, 0x20), (Op.WRITE32, 0x24), (Op.READ32, 0x20), (Op.READ32, 0x24)]
    # An unknown offset reads 0 and counts as a bad access, as the contract says.
    assert dev.read32(0x100) == 0
    assert dev.read("ERROR") & Error.BAD_ACCESS
    dev.close()


def test_cosim_mailbox_many_posted_writes_wrap_the_slot_ring(fake, tmp_path):
    dev = SimDevice(tmp_path, timeout=5)
    fake.paused.set()
    for i in range(SLOTS):                     # fills every slot without an answer
        dev.write32(REGMAP.offset("SCRATCH"), i)
    assert dev.mb[H_HEAD] - dev.mb[H_TAIL] == SLOTS
    fake.paused.clear()                        # the next write waits for a free slot
    for i in range(SLOTS, 3 * SLOTS + 5):
        dev.write32(REGMAP.offset("SCRATCH"), i)
    assert dev.read32(REGMAP.offset("SCRATCH")) == 3 * SLOTS + 4
    dev.sync()
    writes = [v for op, off, v in fake.log if op == Op.WRITE32]
    assert writes == list(range(3 * SLOTS + 5))


def _hammer(d, k, n):
    dev = SimDevice(d, timeout=10)
    bad = 0
    for i in range(n):
        v = (k << 16) | i
        dev.write32(REGMAP.offset("SCRATCH"), v)
        got = dev.read32(REGMAP.offset("ID"))
        bad += got != ID_VALUE
    dev.close()
    return bad


def test_cosim_mailbox_processes_and_threads_share_it(fake, tmp_path):
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        res = pool.starmap_async(_hammer, [(tmp_path, 1, 200), (tmp_path, 2, 200)])
        threads = [threading.Thread(target=_hammer, args=(tmp_path, 3 + k, 100)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert res.get(60) == [0, 0]
    writes = [v for op, off, v in fake.log if op == Op.WRITE32]
    assert len(writes) == 600
    for k, n in ((1, 200), (2, 200), (3, 100), (4, 100)):   # each writer's order is kept
        assert [v & 0xFFFF for v in writes if v >> 16 == k] == list(range(n))


def test_cosim_mailbox_timeouts_and_stopped_sim(fake, tmp_path):
    dev = SimDevice(tmp_path, timeout=0.3)
    fake.paused.set()
    with pytest.raises(MailboxTimeout, match="read32"):
        dev.read32(0)
    fake.paused.clear()
    dev.sync()
    fake.mb[H_STATE] = State.STOPPED
    with pytest.raises(SimStopped, match="stopped"):
        dev.read32(0)
    with pytest.raises(SimStopped, match="stopped"):
        dev.write32(0xC, 1)
    fake.mb[H_STATE] = State.READY
    with pytest.raises(ValueError, match="aligned"):
        dev.read32(2)
    with pytest.raises(ValueError, match="inside the 4 KiB"):
        dev.write32(4096, 0)
    with pytest.raises(ValueError, match="32 bits"):
        dev.write32(0xC, 1 << 32)


def test_cosim_no_simulation_is_a_clear_error(tmp_path):
    with pytest.raises(SimStopped, match="no running co-simulation"):
        SimDevice(tmp_path, timeout=0.1)
    (tmp_path / "mailbox").write_bytes(b"\0" * Mailbox.NBYTES)
    with pytest.raises(SimStopped, match="no running co-simulation"):
        SimDevice(tmp_path, timeout=0.1)


def test_cosim_host_memory_alloc_is_shared_and_bounded(fake, tmp_path):
    a = SimDevice(tmp_path, timeout=5)
    b = SimDevice(tmp_path, timeout=5)
    x = a.alloc(5000)
    y = b.alloc(100)
    assert x.bus == HOST_BASE and y.bus == HOST_BASE + 8192          # 4 KiB aligned, never shared
    x.array()[:3] = [7, 8, 9]
    # another mapping of the same file (another process's view) sees the bytes
    assert bytes(b.buffer(HOST_BASE, 3).mv) == bytes([7, 8, 9])
    with pytest.raises(MemoryError, match="full"):
        a.alloc(1 << 20)
    with pytest.raises(ValueError, match="outside"):
        a.buffer(HOST_BASE - 4096, 10)
    assert a.mb[H_ALLOC] == 8192 + 100
    a.close()
    b.close()


def test_cosim_consumer_over_fake_mailbox_model_writes(tmp_path):
    """RingConsumer.open over SimDevice runs the contract's enable sequence through the mailbox;
    entries the 'device' (here: the model writing into the shared file) lands are delivered."""
    from ringgate.sw.driver.consumer import RingConsumer

    f = FakeSim(tmp_path)
    try:
        dev = SimDevice(tmp_path, timeout=5)
        got = []
        c = RingConsumer.open(dev, 64, callback=lambda v: got.append(v.copy()), health_every=0)
        # The model writes into the same file the consumer maps, at the configured bus addresses.
        hm = map_shared(tmp_path / "hostmem", 1 << 20, create=False)
        f.model.host.map(HOST_BASE, hm)
        f.paused.set()
        e = np.zeros(10, dtype=c.ring.dtype)
        e["uid"] = np.arange(10)
        f.model.push(e)
        f.model.run()
        f.paused.clear()
        assert c.run(count=10, timeout=5) == 10
        assert [int(x) for v in got for x in v["uid"]] == list(range(10))
        assert [int(x) for v in got for x in v["seq"]] == list(range(10))
    finally:
        f.close()
