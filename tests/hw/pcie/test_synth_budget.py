"""Synthesis budgets of the PCIe path (yosys synth_xilinx -family xcup -abc9, as
``ringgate synth`` reports them): at most 5 LUT levels, and resources within 5 % of the
figures the design was accepted at (docs/pcie.md, "Resources")."""
import pytest

from ringgate.app.synth import BLOCKS, synthesize

LEVELS = 5
SLACK = 1.05
# (block, width): (LUT, FF) accepted, ring depth 1024
ACCEPTED = {
    ("dma", 256): (1877, 2410),
    ("top", 256): (3333, 5034),
    ("top", 512): (3616, 4918),
}


@pytest.mark.slow
@pytest.mark.parametrize("block,width", [("dma", 256), ("top", 256), ("top", 512), ("bar0", 256)],
                         ids=["dma", "top256", "top512", "bar0"])
def test_pcie_synthesis_budget(tmp_path, block, width):
    r = synthesize(BLOCKS[block].make(width, 1024, True), f"{block}{width}", abc9=True, workdir=tmp_path)
    s = r.summary()
    assert r.lut_levels <= LEVELS, s
    if (block, width) in ACCEPTED:
        luts, ffs = ACCEPTED[block, width]
        assert r.luts <= luts * SLACK and r.ffs <= ffs * SLACK, s
