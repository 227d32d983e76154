"""What a board top needs to know about a board: an Amaranth platform with the board's pins (each
cited to its published source), and the facts the IP configuration, the clocking and the
Vivado flow take from the board.

Every board names its resources the same way, so one board top serves them all:

=================  ==========================================================================
resource           what it is
=================  ==========================================================================
``pcie_refclk``    the edge connector's 100 MHz reference clock (a GT reference clock input)
``pcie_perst``     PERST# (``PinsN``: ``.i`` is 1 while the host holds the card in reset)
``pcie_lanes`` 0   PCIe lanes 0-7 (``rx``/``tx`` differential pairs; GT pins)
``pcie_lanes`` 1   PCIe lanes 8-15, for a x16 link
``sysclk``         a free-running board oscillator (LVDS), source of the management clock
``qsfp_refclk``    the QSFP28 cage's transceiver reference clock
``qsfp_lane``      lane 0 of that cage (GT pins)
``qsfp_ctl``       the module's ModSelL, ResetL and LPMode, and on boards whose QSFP clock
                   generator the FPGA programs, its frequency-select ``fs`` and ``refclk_reset``
``led``  0..2      user LEDs
=================  ==========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from amaranth.vendor import XilinxPlatform

__all__ = ["Board", "Flash", "Qsfp", "RESOURCE_NAMES", "mmcm_params"]

RESOURCE_NAMES = ("pcie_refclk", "pcie_perst", "pcie_lanes", "sysclk", "qsfp_refclk", "qsfp_lane",
                  "qsfp_ctl", "led")


@dataclass(frozen=True)
class Qsfp:
    """The QSFP28 cage the MAC uses.

    Members
    -------
    gt_group, lane_loc : the quad and channel of lane 0 (``GT_GROUP_SELECT`` / ``LANE1_GT_LOC``).
    refclk_select : the value driven on ``qsfp_ctl.fs`` to make the clock generator produce
        the ``qsfp_refclk`` frequency, or None on boards where the FPGA does not choose it.
    """
    gt_group: str
    lane_loc: str
    refclk_select: int | None = None


@dataclass(frozen=True)
class Flash:
    """The configuration flash and how an image is written into it.

    Members
    -------
    part : Vivado's ``get_cfgmem_parts`` name.
    size_mb, interface : ``write_cfgmem -size`` and ``-interface``.
    address : where the image goes (``-loadbit {up <address> ...}``).
    files : the ``.mcs`` files ``write_cfgmem`` writes for the interface (dual-QSPI x8 writes
        a primary and a secondary image).
    """
    part: str
    size_mb: int
    interface: str
    address: int
    source: str

    @property
    def files(self) -> tuple[str, ...]:
        return ("primary", "secondary") if self.interface == "SPIx8" else ("",)


class Board(XilinxPlatform):
    """An UltraScale+ board with a PCIe hard block and a QSFP28 cage (subclasses give the facts).

    Members
    -------
    name, title : the board's short name (``ringgate build --board``) and full name.
    device, package, speed : the part.
    resources : pins, see the module docstring; ``sources`` cites each resource.
    pcie_block, pcie_quad : the hard block site and lane 0's GT quad.
    subsystem_vendor, subsystem : PCI subsystem IDs of this board.
    qsfp : :class:`Qsfp`.
    bitstream : ``(property, value, source)`` of the configuration and bitstream settings.
    power_budget : watts for ``set_operating_conditions -design_power_budget`` (None: none).
    flash : :class:`Flash`.
    """
    name: str = ""
    title: str = ""
    connectors = []
    sources: dict[str, str] = {}
    pcie_block: str = ""
    pcie_quad: str = ""
    subsystem_vendor: int = 0x10EE
    subsystem: int = 0
    qsfp: Qsfp
    bitstream: tuple[tuple[str, str, str], ...] = ()
    power_budget: float | None = None
    flash: Flash

    def __init__(self, *, toolchain=None):
        super().__init__(toolchain=toolchain)
        self._synchronisers = {"ff": 0, "async_ff": 0}

    # Synchronisers are lowered here (Amaranth tags their first stage, or the PRE pins of an
    # asynchronous one, with ``amaranth.vivado.*`` properties); counting them tells the XDC
    # which crossing constraints the design needs.
    def get_ff_sync(self, ff_sync):
        if ff_sync._max_input_delay is not None:
            raise NotImplementedError("FFSynchronizer(max_input_delay=...) on a board: the XDC "
                                      "constrains synchroniser inputs as false paths")
        self._synchronisers["ff"] += 1
        return super().get_ff_sync(ff_sync)

    def get_async_ff_sync(self, async_ff_sync):
        if async_ff_sync._max_input_delay is not None:
            raise NotImplementedError("AsyncFFSynchronizer(max_input_delay=...) on a board: the XDC "
                                      "constrains reset synchronisers as false paths")
        self._synchronisers["async_ff"] += 1
        return super().get_async_ff_sync(async_ff_sync)

    def synchronisers(self) -> dict[str, int]:
        """How many level (``ff``) and reset (``async_ff``) synchronisers the prepared design has."""
        return dict(self._synchronisers)

    # The board top's own Vivado flow (ringgate.app.build) writes the scripts and constraints;
    # from Amaranth's templates it takes only the netlist.
    @property
    def file_templates(self):
        return {"{{name}}.v": "/* {{autogenerated}} */\n{{emit_verilog()}}"}

    @property
    def command_templates(self):
        return []

    @property
    def part(self) -> str:
        return f"{self.device}-{self.package}-{self.speed}"

    def clock_hz(self, resource: str) -> float:
        """The frequency a resource's ``Clock`` declares."""
        clock = self.lookup(resource, 0).clock
        if clock is None:
            raise KeyError(f"{resource} of {self.name} declares no clock frequency")
        return clock.frequency

    def lanes_resources(self, lanes: int) -> list[int]:
        """The ``pcie_lanes`` resource numbers a link of ``lanes`` lanes uses."""
        if lanes not in (8, 16):
            raise ValueError(f"{self.name}: a link of 8 or 16 lanes, not {lanes}")
        return list(range(lanes // 8))


# DS923 (MMCM switching characteristics): VCO 800-1600 MHz, phase-detector input 10-450 MHz at
# -2; UG572 Table 3-4 (UltraScale+): CLKFBOUT_MULT_F 2-128, CLKOUT0_DIVIDE_F 1-128.
VCO_HZ = (800e6, 1600e6)
PFD_HZ = (10e6, 450e6)


def mmcm_params(f_in: float, f_out: float) -> dict:
    """Integer MMCM settings giving exactly ``f_out`` from ``f_in``: the highest VCO frequency
    in range (lowest output jitter). Raises ValueError if no integer setting gives it."""
    best = None
    for d in range(1, 107):
        pfd = Fraction(f_in) / d
        if not PFD_HZ[0] <= pfd <= PFD_HZ[1]:
            continue
        for mult in range(2, 129):
            vco = pfd * mult
            if not VCO_HZ[0] <= vco <= VCO_HZ[1]:
                continue
            div = vco / Fraction(f_out)
            if div.denominator == 1 and 1 <= div <= 128 and (best is None or vco > best[0]):
                best = (vco, d, mult, int(div))
    if best is None:
        raise ValueError(f"no integer MMCM setting makes {f_out / 1e6:g} MHz from {f_in / 1e6:g} MHz")
    vco, d, mult, div = best
    return {"DIVCLK_DIVIDE": d, "CLKFBOUT_MULT_F": float(mult), "CLKOUT0_DIVIDE_F": float(div),
            "CLKIN1_PERIOD": round(1e9 / f_in, 3), "vco_hz": float(vco)}
