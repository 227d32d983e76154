"""ConfigCheck (hw/dma/config.py): every refusal reason by field, against the golden model's
enable-time validation (ringgate.model.fpga), and the values loaded for a good configuration."""
import random

import pytest

from ringgate.contracts.regmap import MAX_RING_SIZE, REGMAP, Error, config_errors
from ringgate.hw.dma.config import ConfigCheck
from ringgate.model.fpga import FpgaModel

from .helpers import simulate

BASE, CURSOR = 0x10_0000, 0x80_0000
SENT = 100
CASES = [
    dict(), dict(ring_size=0), dict(ring_size=48), dict(ring_size=MAX_RING_SIZE * 2), dict(ring_size=MAX_RING_SIZE),
    dict(ring_base=BASE + 64), dict(cursor_addr=CURSOR + 8), dict(cursor_addr=BASE + 64 * 5),
    dict(cursor_addr=BASE - 32), dict(cursor_addr=BASE - 64), dict(batch_limit=0), dict(cursor_interval=0),
    dict(doorbell=SENT + 1), dict(doorbell=SENT - 65), dict(doorbell=SENT - 64), dict(ring_base=BASE + 64, cursor_addr=BASE + 128),
    dict(ring_size=12, doorbell=0),
]


TOP = 1 << 64
# Exact refusal bits at the edges of the address space (RTL, golden model and the driver's
# check share ``config_errors``; these pin the rule itself).
EDGES = [
    (dict(ring_base=0, cursor_addr=0x40), Error.CURSOR_IN_RING),
    (dict(ring_base=0, cursor_addr=0), Error.CURSOR_IN_RING),
    (dict(ring_base=0, cursor_addr=64 * 64), Error(0)),
    (dict(ring_base=64 * 64, cursor_addr=0), Error(0)),
    (dict(ring_base=64 * 64, cursor_addr=TOP - 64), Error(0)),
    (dict(ring_base=TOP - 4096, cursor_addr=0), Error(0)),                 # ends exactly at 2**64
    (dict(ring_base=TOP - 4096, cursor_addr=TOP - 64), Error.CURSOR_IN_RING),
    (dict(ring_base=TOP - 4096, ring_size=128, cursor_addr=0), Error.RING_WRAPS),
    (dict(ring_base=TOP - 4096, ring_size=128, cursor_addr=0x40), Error.RING_WRAPS),
    (dict(ring_base=TOP - 4096, ring_size=MAX_RING_SIZE, cursor_addr=TOP - 64),
     Error.RING_WRAPS | Error.CURSOR_IN_RING),
    (dict(ring_base=TOP - 4096, ring_size=48, cursor_addr=TOP - 64), Error.RING_SIZE_INVALID),
    (dict(ring_size=48, cursor_addr=BASE + 64 * 5), Error.RING_SIZE_INVALID),
    (dict(ring_size=3, cursor_addr=BASE), Error.RING_SIZE_INVALID),
    (dict(ring_base=TOP - 64, ring_size=1, cursor_addr=0), Error.RING_BASE_UNALIGNED),
]


def model_errors(cfg, sent):
    """The refusal bits the golden model reports for ``cfg`` with ``sent`` entries sent."""
    m = FpgaModel(depth=64)
    m.sent = sent
    m.ring_base, m.ring_size, m.cursor_addr = cfg["ring_base"], cfg["ring_size"], cfg["cursor_addr"]
    m.batch_limit, m.cursor_interval, m.doorbell_reg = cfg["batch_limit"], cfg["cursor_interval"], cfg["doorbell"]
    m.write("CONTROL", REGMAP["CONTROL"].pack(ENABLE=1))
    return m.errors


async def check(ctx, dut, cfg, sent):
    """The writer's sequence: configuration settled, then CHECK1..3, the slot loaded in CHECK2."""
    for name, v in cfg.items():
        ctx.set(getattr(dut, name), v & ((1 << len(getattr(dut, name))) - 1))
    ctx.set(dut.sent, sent)
    for _ in range(3):
        await ctx.tick()
    for k in range(3):
        ctx.set(dut.stage, 1 << k)
        slot = ctx.get(dut.start_slot) if k == 1 else None
        await ctx.tick()
        if slot is not None:
            ctx.set(dut.slot, slot)
    ctx.set(dut.stage, 0)


@pytest.mark.parametrize("change", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) or "good" for c in CASES])
def test_dma_config_reasons_match_the_model(change):
    sent = SENT
    cfg = {**dict(ring_base=BASE, ring_size=64, cursor_addr=CURSOR, batch_limit=16, cursor_interval=1,
                  doorbell=sent), **change}
    dut = ConfigCheck()

    async def bench(ctx):
        await check(ctx, dut, cfg, sent)
        errors = ctx.get(dut.errors.as_value())
        assert errors == model_errors(cfg, sent), f"RTL {Error(errors)!r}"
        assert ctx.get(dut.fail) == bool(errors)
        if not errors:
            size = cfg["ring_size"]
            assert ctx.get(dut.consumed) == cfg["doorbell"]
            assert ctx.get(dut.room) == size - (sent - cfg["doorbell"])
            assert ctx.get(dut.next_addr) == cfg["ring_base"] + (sent % size) * 64

    simulate(dut, bench)


@pytest.mark.parametrize("change,bits", EDGES, ids=[",".join(f"{k}={v:#x}" for k, v in c.items()) for c, _ in EDGES])
def test_dma_config_exact_bits_at_the_address_space_edges(change, bits):
    sent = SENT
    cfg = {**dict(ring_base=BASE, ring_size=64, cursor_addr=CURSOR, batch_limit=16, cursor_interval=1,
                  doorbell=sent), **change}
    assert config_errors(cfg["ring_base"], cfg["ring_size"], cfg["cursor_addr"]) == bits
    assert model_errors(cfg, sent) == bits
    dut = ConfigCheck()

    async def bench(ctx):
        await check(ctx, dut, cfg, sent)
        assert Error(ctx.get(dut.errors.as_value())) == bits
        assert ctx.get(dut.fail) == bool(bits)

    simulate(dut, bench)


def test_dma_config_random_configurations_match_the_model():
    rng = random.Random(7)
    dut = ConfigCheck()

    async def bench(ctx):
        for _ in range(150):
            sent = rng.randrange(1 << 40)
            size = rng.choice([0, 1, 2, 3, 64, 4096, 1 << 26, 1 << 27, rng.getrandbits(32)])
            base = rng.choice([rng.getrandbits(52) << 12, rng.getrandbits(64), 0, (1 << 64) - (rng.randrange(1, 64) << 12)])
            cfg = dict(ring_base=base, ring_size=size,
                       cursor_addr=rng.choice([base + rng.randrange(-4096, 1 << 20), rng.getrandbits(64),
                                                    base + size * 64 - 64]) % (1 << 64),
                       batch_limit=rng.choice([0, 1, 16]), cursor_interval=rng.choice([0, 1, 3]),
                       doorbell=(sent - rng.choice([0, 1, size, size + 1, rng.getrandbits(20)])) % (1 << 64))
            await check(ctx, dut, cfg, sent)
            errors = ctx.get(dut.errors.as_value())
            assert errors == model_errors(cfg, sent) and ctx.get(dut.fail) == bool(errors), cfg

    simulate(dut, bench)
