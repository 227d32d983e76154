"""The ring consumer against the model backend: order, zero copy, wrap, sequence checks, lazy
doorbell, poll modes, resynchronisation after device stop / reset / power loss and host restart."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from .helpers import make_entries
from ringgate.contracts.datagram import Endpoint, IngressControl, IngressStatus
from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.sw.driver.consumer import DeviceGone, RingConsumer, ResyncError, SequenceError, buffer_bytes
from ringgate.sw.driver.device import DeviceError, ModelDevice
from ringgate.sw.driver.regs import REGMAP, Control, R


class Collector:
    def __init__(self, ring=None):
        self.batches = []
        self.ring = ring

    def __call__(self, view):
        if self.ring is not None:
            assert np.shares_memory(view, self.ring), "batch is not a view of the host ring"
        self.batches.append(view.copy())

    @property
    def all(self):
        return np.concatenate(self.batches) if self.batches else np.zeros(0, ENTRY_DTYPE)


def check_stream(got, data, first_seq=0):
    assert len(got) == len(data), f"{len(got)} entries delivered, {len(data)} expected"
    np.testing.assert_array_equal(got["seq"], np.arange(first_seq, first_seq + len(got)))
    for f in ("uid", "order_id", "price", "size", "symbol", "user_cookie", "cmd"):
        np.testing.assert_array_equal(got[f], data[f][:len(got)])


@pytest.mark.parametrize("ring_size, depth", [(64, 1024), (1024, 64), (256, 256)])
def test_driver_consumer_delivers_everything_in_order_across_laps(ring_size, depth):
    dev = ModelDevice(depth=depth)
    c = RingConsumer.open(dev, ring_size)
    col = Collector(c.ring)
    c.callback = col
    data = make_entries(ring_size * 5 + 37)
    dev.feed(data)
    assert c.run(count=len(data), timeout=10) == len(data)
    check_stream(col.all, data)
    assert c.next == len(data) and dev.read(R.HOST_CONSUMED) == len(data)
    assert max(len(b) for b in col.batches) <= ring_size
    assert not dev.read(R.ERROR)


def test_driver_consumer_batches_split_at_wrap_only():
    dev = ModelDevice(depth=64)
    c = RingConsumer.open(dev, 16, doorbell_every=16)      # capped at half ring: 8
    col = Collector(c.ring)
    c.callback = col
    dev.model.push(make_entries(10))
    dev.model.run()
    assert c.poll() == 10 and dev.read(R.HOST_CONSUMED) == 10
    dev.model.push(make_entries(12, 10))
    dev.model.run()
    assert c.poll() == 12                 # slots 10..15, then 0..5: two views, one per side of the wrap
    assert [len(b) for b in col.batches] == [10, 6, 6]
    check_stream(col.all, make_entries(22))


@pytest.mark.parametrize("n, bad", [(8, 5), (200, 150), (200, 199)])   # plain-Python and numpy checks
def test_driver_consumer_gap_raises(n, bad):
    dev = ModelDevice(depth=256)
    c = RingConsumer.open(dev, 256)
    dev.model.push(make_entries(n))
    dev.model.run()
    c.ring[bad]["seq"] = bad + 1           # a lost entry
    with pytest.raises(SequenceError, match=f"gap: expected seq {bad}, found {bad + 1} in slot {bad}"):
        c.poll()
    assert c.next == 0                     # nothing delivered past the bad entry


def test_driver_consumer_repeat_raises():
    dev = ModelDevice(depth=64)
    seen = []
    c = RingConsumer.open(dev, 32, callback=lambda v: seen.append(len(v)))
    dev.model.push(make_entries(8))
    dev.model.run()
    c.ring[7]["seq"] = 6
    with pytest.raises(SequenceError, match="repeat: expected seq 7, found 6"):
        c.poll()
    assert seen == []


def test_driver_consumer_rejects_cursor_from_elsewhere():
    dev = ModelDevice(depth=64)
    c = RingConsumer.open(dev, 32)
    c._line[0] = 1000                       # nonsense cursor while the device is running
    with pytest.raises(ResyncError, match="written by someone else"):
        c.poll()


@pytest.mark.parametrize("every, expected", [(1, 64), (8, 8), (16, 4), (1000, 2)])
def test_driver_consumer_lazy_doorbell(every, expected):
    """Doorbell after every N entries, at the latest at half ring (32 of 64)."""
    dev = ModelDevice(depth=128)
    c = RingConsumer.open(dev, 64, doorbell_every=every)
    for i in range(64):
        dev.model.push(make_entries(1, i))
        dev.model.run()
        assert c.poll() == 1
    assert c.doorbells == expected
    assert dev.read(R.HOST_CONSUMED) == (64 // min(every, 32)) * min(every, 32)


def test_driver_consumer_idle_flushes_doorbell_once():
    dev = ModelDevice(depth=128)
    c = RingConsumer.open(dev, 64, doorbell_every=50, idle_flush=10, health_every=0)
    dev.model.push(make_entries(5))
    dev.model.run()
    writes = []
    orig = dev.write
    dev.write = lambda name, value: (writes.append((name, value)), orig(name, value))
    c.run(timeout=0.05)                       # delivers 5, then goes quiet: one doorbell
    assert writes == [(R.DOORBELL, 5)]
    assert dev.read(R.HOST_CONSUMED) == 5 and c.next == 5
    c.run(timeout=0.02)                       # nothing new: no further MMIO writes
    assert writes == [(R.DOORBELL, 5)]


def test_driver_consumer_flush():
    dev = ModelDevice(depth=128)
    c = RingConsumer.open(dev, 64, doorbell_every=50)
    dev.model.push(make_entries(5))
    dev.model.run()
    c.poll()
    assert dev.read(R.HOST_CONSUMED) == 0
    c.flush()
    c.flush()
    assert dev.read(R.HOST_CONSUMED) == 5 and c.doorbells == 1


def test_driver_consumer_slow_consumer_backpressure_loses_nothing():
    """The host ring fills, the BRAM ring absorbs, nothing is dropped or repeated."""
    dev = ModelDevice(depth=256)
    c = RingConsumer.open(dev, 32, doorbell_every=4)
    col = Collector()
    c.callback = col
    data = make_entries(2000)
    for fed in range(0, 2000, 200):
        assert dev.model.push(data[fed:fed + 200]) == 200   # a burst the host cannot take at once
        while c.next < fed + 200:
            dev.model.run()
            assert dev.model.sent - dev.read(R.HOST_CONSUMED) <= 32
            c.poll()                              # reads only what the cursor says, then doorbell
    check_stream(col.all, data)
    assert dev.read(R.RING_FULL_CYCLES) == 0 and dev.read(R.HOST_FULL_CYCLES) > 0


@pytest.mark.parametrize("mode", ["busy", "adaptive", "sleep"])
def test_driver_consumer_poll_modes_with_device_thread(mode):
    """Device fed from another thread (as the board or co-simulation runs on its own)."""
    dev = ModelDevice(depth=512)
    c = RingConsumer.open(dev, 256, poll=mode, spin=10, idle_sleep=1e-4, max_sleep=1e-3)
    col = Collector()
    c.callback = col
    data = make_entries(5000)
    lock = threading.Lock()
    service = dev.service
    dev.service = lambda: None                   # the consumer must not drive the device here

    def producer():
        for i in range(0, len(data), 100):
            with lock:
                dev.feed(data[i:i + 100])
                service()
            time.sleep(0.0005)
        for _ in range(2000):
            with lock:
                service()
            if dev.model.sent == len(data):
                break
            time.sleep(0.0005)

    orig_write = dev.write

    def locked_write(name, value):
        with lock:
            orig_write(name, value)
    dev.write = locked_write
    t = threading.Thread(target=producer)
    t.start()
    c.run(count=len(data), timeout=20)
    t.join()
    check_stream(col.all, data)


def test_driver_consumer_adaptive_backs_off_spin_yield_sleep_and_resets_on_a_batch(monkeypatch):
    """Adaptive polling: spin, then yield, then sleeps doubling up to max_sleep; a batch found
    starts the back-off again from the shortest sleep."""
    import ringgate.sw.driver.consumer as mod
    dev = ModelDevice(depth=64)
    c = RingConsumer.open(dev, 64, poll="adaptive", spin_time=2e-4, yield_time=1e-3, idle_sleep=1e-4,
                          max_sleep=1.6e-3, health_every=0)
    col = Collector()
    c.callback = col
    naps, yields = [], [0]
    real_sleep = time.sleep
    t0 = time.perf_counter()
    first_nap_at = []

    def sleep(s):
        if not naps:
            first_nap_at.append(time.perf_counter() - t0)
        naps.append(s)
        if len(naps) == 8:
            dev.feed(make_entries(5))             # arrives while asleep: picked up at the next poll
        real_sleep(s)

    def yield_():
        yields[0] += 1
    monkeypatch.setattr(mod.time, "sleep", sleep)
    monkeypatch.setattr(mod.os, "sched_yield", yield_)
    c.run(stop=lambda: len(naps) >= 14)
    assert len(col.all) == 5
    assert yields[0] > 0 and first_nap_at[0] >= 1e-3           # no sleep before yield_time
    assert naps[:8] == pytest.approx([1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3, 1.6e-3, 1.6e-3, 1.6e-3])
    assert naps[8:11] == pytest.approx([1e-4, 2e-4, 4e-4])     # reset by the batch
    assert c.sleeps == len(naps)
    with pytest.raises(ValueError, match="back-off"):
        RingConsumer(dev, 64, poll="adaptive", idle_sleep=1e-3, max_sleep=1e-4)


@pytest.mark.parametrize("mode, bound", [("adaptive", 0.1), ("sleep", 0.5)])
def test_driver_consumer_idle_poll_modes_use_little_cpu(mode, bound):
    dev = ModelDevice(depth=64)
    c = RingConsumer.open(dev, 64, poll=mode, spin=10, idle_sleep=2e-3 if mode == "sleep" else 5e-5)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    c.run(timeout=0.4)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert wall >= 0.4 and cpu < bound * wall
    if mode == "adaptive":                         # default max_sleep 1 ms: ~1,000 wake-ups a second
        assert c.sleeps < 1.2 * wall / 1e-3 + 20


def test_driver_consumer_resync_after_device_reset_no_loss_no_repeat():
    dev = ModelDevice(depth=512)
    c = RingConsumer.open(dev, 64, doorbell_every=16, health_every=1e-9)
    col = Collector()
    c.callback = col
    data = make_entries(1000)
    fed = resets = i = 0
    while c.next < len(data):
        fed += dev.model.push(data[fed:fed + 30])
        dev.model.run(25)
        i += 1
        if i % 4 == 2 and resets < 5:             # CONTROL.RESET from "someone" mid-stream
            dev.write(R.CONTROL, Control.RESET)
            resets += 1
        c.run(timeout=0.01)
    assert resets == 5 and c.resyncs >= 5 and c.epoch == 0
    check_stream(col.all, data)


def test_driver_consumer_resync_after_power_loss_delivers_announced_entries():
    dev = ModelDevice(depth=512)
    c = RingConsumer.open(dev, 64)
    col = Collector()
    c.callback = col
    first = make_entries(40)
    dev.model.push(first)
    dev.model.run()
    c.poll()                      # consumer took 40 entries, device then loses power
    dev.model.push(make_entries(10, 40))
    dev.model.run()               # 10 more written and announced, not yet seen by the host
    dev.model.power_on()
    assert c.resync() == 10
    assert c.epoch == 1 and c.next == 0 and dev.read(R.CONTROL) & Control.ENABLE
    second = make_entries(20, 1000)
    dev.model.push(second)
    dev.model.run()
    c.poll()
    got = col.all
    np.testing.assert_array_equal(got["uid"][:50], make_entries(50)["uid"])
    np.testing.assert_array_equal(got["seq"][50:], np.arange(20))       # the new epoch
    np.testing.assert_array_equal(got["uid"][50:], second["uid"])


class VanishingDevice(ModelDevice):
    """The model behind a link that goes down: while gone every BAR0 read returns all ones and
    writes are lost (what a root port does for a vanished function). Its state is reset as it
    goes (PERST# / user_reset); it answers again after ``reads`` more reads."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.gone_for = 0
        self.lost_writes = 0

    def vanish(self, reads: int) -> None:
        self.model.power_on()
        self.gone_for = reads

    def _gone(self) -> bool:
        if not self.gone_for:
            return False
        self.gone_for -= 1
        return True

    def service(self):
        if not self.gone_for:
            super().service()

    def read32(self, offset):
        return 0xFFFF_FFFF if self._gone() else super().read32(offset)

    def read(self, name):
        return REGMAP[name].mask if self._gone() else super().read(name)

    def write32(self, offset, value):
        if self.gone_for:
            self.lost_writes += 1
        else:
            super().write32(offset, value)

    def write(self, name, value):
        if self.gone_for:
            self.lost_writes += 1
        else:
            super().write(name, value)


def test_driver_consumer_device_gone_and_back_delivers_every_announced_entry_once():
    """PERST# / link down under traffic: reads all ones, writes lost, the device returns reset.
    The health check sees it go, waits, delivers what the last cursor write announced (once),
    and restarts the device at its new sequence; what the device held unannounced is lost."""
    dev = VanishingDevice(depth=512)
    col = Collector()
    c = RingConsumer.open(dev, 64, callback=col, health_every=1e-9, gone_timeout=5)
    dev.model.push(make_entries(40))
    dev.model.run()
    assert c.poll() == 40
    dev.model.push(make_entries(10, 40))
    dev.model.run()                            # announced, not yet seen by the host
    dev.model.push(make_entries(5, 50))        # in the BRAM ring, never sent: lost with the device
    dev.vanish(reads=6)
    c.check_device()
    assert c.outages == 1 and c.epoch == 1 and c.resyncs == 1
    assert c.next == 0 and dev.read(R.CONTROL) & Control.ENABLE and dev.read(R.SENT) == 0
    second = make_entries(30, 1000)
    dev.model.push(second)
    dev.model.run()
    c.poll()
    got = col.all
    check_stream(got[:50], make_entries(50))
    np.testing.assert_array_equal(got["seq"][50:], np.arange(30))
    np.testing.assert_array_equal(got["uid"][50:], second["uid"])


def test_driver_consumer_device_gone_while_stopping_is_waited_for():
    """The device vanishes between the disable write and the BUSY poll of a resync: the
    consumer waits for it and treats its state as lost even when SENT looks plausible (0 at 0)."""
    dev = VanishingDevice(depth=512)
    col = Collector()
    c = RingConsumer.open(dev, 64, callback=col, gone_timeout=5)
    dev.model.push(make_entries(7))
    dev.model.run()                            # announced; the consumer is still at 0
    dev.vanish(reads=3)
    assert c.resync() == 7
    assert dev.lost_writes == 1                # the first disable went nowhere
    assert c.outages == 1 and c.epoch == 1 and c.next == 0
    check_stream(col.all, make_entries(7))


def test_driver_consumer_device_that_stays_gone_raises_with_a_reason():
    dev = VanishingDevice(depth=64)
    c = RingConsumer.open(dev, 64, health_every=1e-9, gone_timeout=0.05)
    dev.vanish(reads=10**9)
    t0 = time.monotonic()
    with pytest.raises(DeviceGone, match=r"all ones.*0.05 s \(ID reads 0xffffffff\)"):
        c.check_device()
    assert time.monotonic() - t0 < 2 and c.outages == 1


def test_driver_consumer_error_register_of_a_present_device_still_raises():
    """All-ones ERROR from a device whose ID still answers is an error report, not an outage."""
    dev = ModelDevice(depth=64)
    c = RingConsumer.open(dev, 64)
    dev.model.errors = REGMAP["ERROR"].mask
    with pytest.raises(DeviceError, match="device reports errors"):
        c.check_device()
    assert c.outages == 0


def test_driver_consumer_host_restart_resumes_exactly():
    dev = ModelDevice(depth=1024)
    c1 = RingConsumer.open(dev, 128, doorbell_every=64)
    col1 = Collector()
    c1.callback = col1
    data = make_entries(700)
    dev.model.push(data[:300])
    dev.model.run()
    c1.poll()
    buf = c1.buffer
    assert c1.next == 128 and dev.read(R.HOST_CONSUMED) == 128
    # device keeps producing while no host process runs
    dev.model.run()
    del c1                                   # the process dies (the buffer persists)
    col2 = Collector()
    c2 = RingConsumer.attach(dev, buf, 128, callback=col2)
    assert c2.next == 128
    dev.model.push(data[300:])
    while c2.next < 700:
        dev.model.run()
        c2.poll()
        c2.idle()
    got = np.concatenate([col1.all, col2.all])
    check_stream(got, data)


def test_driver_consumer_host_restart_with_journal_position():
    dev = ModelDevice(depth=1024)
    c1 = RingConsumer.open(dev, 128, doorbell_every=64)
    dev.model.push(make_entries(50))
    dev.model.run()
    c1.poll()
    assert dev.read(R.HOST_CONSUMED) == 0          # lazy: no doorbell yet
    dev.model.push(make_entries(50, 50))
    dev.model.run()
    buf = c1.buffer
    col = Collector()
    # the application's journal says 30 were processed (it crashed before the state line's 50)
    c2 = RingConsumer.attach(dev, buf, 128, next_seq=30, callback=col)
    c2.poll()
    assert col.all["seq"][0] == 30 and len(col.all) == 70
    check_stream(col.all, make_entries(70, 30), 30)
    with pytest.raises(ResyncError, match="only sent entries below 100"):
        RingConsumer.attach(dev, buf, 128, next_seq=101)


def test_driver_consumer_attach_refuses_foreign_buffer():
    dev = ModelDevice(depth=64)
    buf = dev.alloc(buffer_bytes(64))
    with pytest.raises(ResyncError, match="no consumer state line"):
        RingConsumer.attach(dev, buf, 64)
    c = RingConsumer.open(dev, 64)
    with pytest.raises(ResyncError, match="configured for 64 entries, not 32"):
        RingConsumer.attach(dev, c.buffer, 32)


def test_driver_consumer_attach_after_device_stopped_drains_then_restarts():
    dev = ModelDevice(depth=1024)
    c1 = RingConsumer.open(dev, 128)
    col1 = Collector()
    c1.callback = col1
    data = make_entries(200)
    dev.model.push(data[:100])
    dev.model.run()
    c1.poll()
    dev.model.push(data[100:150])
    dev.model.run()
    dev.write(R.CONTROL, 0)                  # stopped while the host was away
    col2 = Collector()
    c2 = RingConsumer.attach(dev, c1.buffer, 128, callback=col2)
    assert dev.read(R.CONTROL) & Control.ENABLE
    dev.model.push(data[150:])
    dev.model.run()
    c2.poll()
    check_stream(np.concatenate([col1.all, col2.all]), data)


def test_driver_consumer_device_error_is_reported():
    dev = ModelDevice(depth=64)
    c = RingConsumer.open(dev, 64, health_every=1e-9)
    dev.write(R.SENT, 1)                        # a bad access by someone: sticky BAD_ACCESS
    time.sleep(0.001)
    with pytest.raises(DeviceError, match="BAD_ACCESS"):
        c.run(timeout=0.05)


def test_driver_consumer_refused_configuration_names_the_reason():
    dev = ModelDevice(depth=64)
    with pytest.raises(DeviceError, match="LIMIT_INVALID"):
        RingConsumer.open(dev, 64, batch_limit=0)
    with pytest.raises(ValueError, match="power of two"):
        RingConsumer(dev, 48)
    with pytest.raises(ValueError, match="poll mode"):
        RingConsumer(dev, 64, poll="spin")


def test_driver_consumer_feeds_the_exchange_core():
    """The consumer's batches go straight into the exchange (from_ring) and are accepted."""
    from ringgate.sim.traffic import make_traffic
    from ringgate.sw.exchange.commands import from_ring
    from ringgate.sw.exchange.engine import Engine

    tr = make_traffic(3000, users=50, symbols=2, resting=200, seed=11)
    eng = Engine()
    for i, cmd in enumerate(tr.setup, 1):
        eng.apply(i, 0, cmd)
    seq = [len(tr.setup)]
    codes = []

    def on_batch(view):
        for cmd in from_ring(view):
            seq[0] += 1
            codes.append(eng.apply(seq[0], 0, cmd).result_code)

    dev = ModelDevice(depth=1024)
    c = RingConsumer.open(dev, 512, callback=on_batch)
    dev.feed(tr.entries, tr.cycles)
    c.run(count=len(tr), timeout=30)
    assert len(codes) == len(tr)
    assert codes.count(100) / len(codes) > 0.99


def test_driver_consumer_on_a_shared_file_buffer_survives_restart(tmp_path):
    """A ring in a shared file (as the co-simulation backend and a restartable host use it):
    a second mapping of the file attaches and resumes where the first left off."""
    from ringgate.sw.driver.device import file_buffer

    dev = ModelDevice(depth=1024)
    path = tmp_path / "ring.shm"
    bus = 0x40_0000_0000
    buf1 = file_buffer(path, buffer_bytes(256), bus)
    dev.host.map(bus, buf1.mv)                  # the device writes this file (like the simulator)
    col1 = Collector()
    c1 = RingConsumer.open(dev, 256, buffer=buf1, callback=col1, doorbell_every=64)
    data = make_entries(900)
    dev.model.push(data[:300])
    dev.model.run()
    c1.poll()
    del c1
    buf2 = file_buffer(path, buffer_bytes(256), bus)      # the restarted process maps it again
    col2 = Collector()
    c2 = RingConsumer.attach(dev, buf2, 256, callback=col2)
    dev.model.push(data[300:])
    while c2.next < 900:
        dev.model.run()
        c2.poll()
    check_stream(np.concatenate([col1.all, col2.all]), data)


def test_driver_consumer_manual_release_holds_the_doorbell():
    """The doorbell never passes what the application released (e.g. journaled); the device
    waits when the host ring is full of unreleased entries; releases from another thread work."""
    from concurrent.futures import ThreadPoolExecutor

    dev = ModelDevice(depth=1024)
    pool = ThreadPoolExecutor(1)
    held = []
    journaled = [100]                             # the "journal" completes only up to here for now
    c = RingConsumer.open(dev, 64, doorbell_every=8, manual_release=True, idle_flush=4, health_every=0)

    def on_batch(view):
        held.append(view.copy())
        end = int(view["seq"][-1]) + 1
        pool.submit(c.release, min(end, journaled[0])).result()     # released from another thread
    c.callback = on_batch
    dev.feed(make_entries(300))
    c.run(timeout=0.2)
    assert dev.read(R.HOST_CONSUMED) == 100
    assert c.next == 164                          # 100 released + one full ring of unreleased
    assert dev.model.sent == 164 and dev.read(R.STATUS) & 4   # HOST_FULL
    journaled[0] = 300
    c.release(164)
    assert c.run(count=136, timeout=5) == 136
    check_stream(np.concatenate(held), make_entries(300))
    with pytest.raises(RuntimeError, match="manual_release"):
        RingConsumer(dev, 64).release(5)
    pool.shutdown()


def test_driver_consumer_through_32bit_bar_words_only():
    """The same consumer over a device reachable only by 1-DW BAR accesses (as a mapped BAR or
    the co-simulation mailbox): the contract's low-then-high 64-bit access order against the
    model's latch/stage semantics, including a resync."""
    from ringgate.sw.driver.device import Device

    model_dev = ModelDevice(depth=512)

    class WordDevice(Device):
        def read32(self, offset):
            return model_dev.model.read32(offset)

        def write32(self, offset, value):
            model_dev.model.write32(offset, value)

        def alloc(self, nbytes):
            return model_dev.alloc(nbytes)

        def service(self):
            model_dev.service()

    dev = WordDevice()
    col = Collector()
    c = RingConsumer.open(dev, 128, callback=col, doorbell_every=16, health_every=1e-9)
    data = make_entries(1000)
    model_dev.feed(data[:500])
    c.run(count=500, timeout=10)
    dev.write(R.CONTROL, Control.RESET)
    model_dev.feed(data[500:])
    c.run(count=500, timeout=10)
    check_stream(col.all, data)
    assert c.resyncs == 1 and not dev.read(R.ERROR)
    assert dev.read(R.HOST_CONSUMED) == 1000 and dev.read(R.SENT) == 1000


def test_driver_consumer_into_gateway_ring_feed_with_release_on_durability():
    """The wiring of docs/driver.md: batches into the gateway's RingFeed, ring slots released only
    when the feed's future (durability) completes, from the sequencer's thread."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from ringgate.sim.traffic import make_traffic
    from ringgate.sw.exchange.engine import Engine
    from ringgate.sw.gateway.feed import RingFeed

    tr = make_traffic(4000, users=50, symbols=1, resting=200, seed=3)
    eng = Engine()
    for i, cmd in enumerate(tr.setup, 1):
        eng.apply(i, 0, cmd)
    pool = ThreadPoolExecutor(1)                 # stands in for the sequencer + journal thread
    seq = [len(tr.setup)]
    codes = []

    class Bridge:
        def submit_batch(self, commands) -> Future:
            def apply():
                out = []
                for cmd in commands:
                    seq[0] += 1
                    out.append(eng.apply(seq[0], 0, cmd))
                codes.extend(r.result_code for r in out)
                return out
            return pool.submit(apply)

    feed = RingFeed(Bridge())
    dev = ModelDevice(depth=1024)
    c = RingConsumer.open(dev, 256, manual_release=True, doorbell_every=64, idle_flush=8)

    def on_batch(view):
        end = int(view["seq"][-1]) + 1
        feed.submit(view).add_done_callback(lambda f, end=end: c.release(end))
    c.callback = on_batch
    dev.feed(tr.entries, tr.cycles)
    c.run(count=len(tr), timeout=30)
    pool.shutdown(wait=True)
    c.run(timeout=0.05)                          # quiet: the last releases reach the doorbell
    assert feed.entries == len(tr) and feed.refused == 0
    assert codes.count(100) / len(codes) > 0.99
    assert dev.read(R.HOST_CONSUMED) == len(tr)


def test_driver_consumer_callback_error_redelivers_the_batch():
    """A callback that raises loses nothing: the batch is delivered again by the next poll."""
    dev = ModelDevice(depth=64)
    fail = [True]
    got = []

    def cb(view):
        if fail[0]:
            fail[0] = False
            raise RuntimeError("downstream not ready")
        got.append(view.copy())
    c = RingConsumer.open(dev, 32, callback=cb)
    dev.model.push(make_entries(10))
    dev.model.run()
    with pytest.raises(RuntimeError, match="downstream"):
        c.poll()
    assert c.next == 0 and dev.read(R.HOST_CONSUMED) == 0
    assert c.poll() == 10
    check_stream(np.concatenate(got), make_entries(10))


class IngressModelDevice(ModelDevice):
    """The model with an Ethernet ingress's registers answering as the RTL's do (the model keeps
    the ingress group as storage): capabilities, and ENABLED following INGRESS_CONTROL.ENABLE."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.control_writes = []

    def read32(self, offset):
        if offset == REGMAP.offset("INGRESS_CAPS"):
            return 0x0410
        if offset == REGMAP.offset("INGRESS_STATUS"):
            return int(IngressStatus.ENABLED) if self.model.storage.get("INGRESS_CONTROL", 0) & 1 else 0
        return super().read32(offset)

    def write32(self, offset, value):
        if offset == REGMAP.offset("INGRESS_CONTROL"):
            self.control_writes.append(value)
        super().write32(offset, value)


LOCAL = Endpoint.parse("02:52:47:00:00:01/10.0.0.2/9000")


def test_driver_consumer_sets_up_the_ingress_and_again_after_a_power_loss():
    dev = IngressModelDevice(depth=64)
    c = RingConsumer.open(dev, 64, ingress=LOCAL)
    stored = {n: dev.model.storage.get(n) for n in ("MAC_ADDR", "IP_ADDR", "UDP_PORT", "INGRESS_CONTROL")}
    assert stored == {"MAC_ADDR": LOCAL.mac_int, "IP_ADDR": LOCAL.ip_int, "UDP_PORT": LOCAL.port,
                      "INGRESS_CONTROL": int(IngressControl.ENABLE)}
    assert dev.control_writes == [IngressControl.ENABLE]
    c.resync()                                   # the DMA writer restarts; the ingress keeps running
    assert dev.control_writes == [IngressControl.ENABLE]
    dev.model.power_on()                         # the device lost everything, ingress included
    c.resync()
    assert dev.control_writes == [IngressControl.ENABLE] * 2
    assert dev.model.storage["UDP_PORT"] == LOCAL.port


def test_driver_consumer_refuses_an_ingress_the_device_does_not_have():
    with pytest.raises(DeviceError, match="no Ethernet ingress"):
        RingConsumer.open(ModelDevice(depth=64), 64, ingress=LOCAL)
