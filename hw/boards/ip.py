"""The two Vivado IPs of a board top, as data: their ports (for the black-box ``Instance``, the
synthesis and lint stubs and the clock-domain checks) and their configuration (Vivado TCL
generated from our parameters).

- ``pcie4_uscale_plus`` (PG213): the PCIe hard block. Gen3, x8 at 256 bits or x16 at 512 bits,
  250 MHz user clock; BAR0 size from the register map, the IDs of
  :data:`ringgate.contracts.pcie.PCI_IDENTITY`, the largest max payload the DMA writer supports.
- ``xxv_ethernet`` (PG210): the 10G/25G Ethernet subsystem, one core, MAC + PCS/PMA 64-bit,
  shared logic (GT common and the reference-clock buffer) inside the core.

Port lists are the IPs' own. ``pcie4_uscale_plus``: the Vivado 2020.2 synthesis stub of a
512-bit MSI configuration (ssrg-vt/popcorn-kernel@d6a661b2:fpga/lib/remap/ip/pcie4_uscale_plus_0/
pcie4_uscale_plus_0_stub.v); at 256 bits the same names with the AXI-Stream widths of PG213
(tuser 62/75/88/33, as ``ringgate.hw.pcie.usp.TUSER``) and 8 lanes. The configuration keeps
the MSI capability enabled so that this is the port set the IP has (MSI-X off, the default);
the device raises no interrupt, the host polls the cursor line. ``xxv_ethernet``: AMD's
instance in Xilinx/Vitis-Tutorials@0ec2c125:Hardware_Acceleration/Feature_Tutorials/
09-using-ethernet-on-alveo/rtl/ethernet_krnl_axis_x1.sv (widths from its comments).
Nothing here has been through Vivado on this machine (no Vivado): ``docs/boards.md`` lists
what a first Vivado run must confirm.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ringgate.contracts.pcie import MAX_PAYLOADS, PCI_IDENTITY, USER_CLOCK_HZ, PciIdentity
from ringgate.contracts.regmap import BAR0_SIZE
from ringgate.hw.pcie.usp import TUSER

__all__ = ["Port", "PcieIp", "MacIp", "PCIE_MODULE", "MAC_MODULE", "LINK_WIDTH", "MAC_USER_CLOCK_HZ",
           "blackbox_verilog", "tcl_value"]

PCIE_MODULE = "pcie4_uscale_plus_0"
MAC_MODULE = "xxv_ethernet_0"
LINK_WIDTH = {256: 8, 512: 16}       # lanes of the Gen3 link each datapath width is built for


@dataclass(frozen=True)
class Port:
    """One port of an IP, from the IP's side.

    Members
    -------
    name, dir, width : the IP's port name, ``"i"`` or ``"o"``, bits.
    domain : what the port is synchronous to: the name of one of the IP's clock outputs
        (``"user_clk"``, ``"rx_clk_out_0"``, ...), ``"clock"`` (a clock itself), ``"async"``
        (no clock relation: resets and status the IP synchronises, or that assert
        asynchronously), ``"serial"`` (transceiver pins).
    tie : the value an input takes when the board top leaves it (None: it must be driven).
    """
    name: str
    dir: str
    width: int
    domain: str
    tie: int | None = None


def _ports(spec: str, **widths) -> tuple[Port, ...]:
    """Ports from ``name dir width domain [tie]`` lines; a width may name one of ``widths``."""
    out = []
    for line in spec.strip().splitlines():
        name, d, w, dom, *tie = line.split()
        out.append(Port(name, d, int(widths.get(w, w)), dom, int(tie[0], 0) if tie else None))
    return tuple(out)


def tcl_value(v) -> str:
    """A CONFIG value as Vivado's ``set_property -dict`` takes it."""
    if isinstance(v, bool):
        return "{true}" if v else "{false}"
    return "{" + str(v) + "}"


def _set_dict(module: str, config: dict) -> str:
    lines = "\n".join(f"    CONFIG.{k} {tcl_value(v)} \\" for k, v in config.items())
    return f"set_property -dict [list \\\n{lines}\n] [get_ips {module}]\n"


# -- PCIe hard block --------------------------------------------------------------------------

# Input tie-offs follow alexforencich/verilog-pcie@25156a9a:example/Alveo/fpga/rtl/fpga_au200.v
# (L207-L308): configuration-space access and power management left to the hard block, no
# messages, no interrupts, no virtual functions (their FLR tied off; the physical functions'
# cfg_flr_done comes from the gateware), RC never back-pressured (the DMA writer issues no reads).
_PCIE_SPEC = """
pci_exp_txn o L serial
pci_exp_txp o L serial
pci_exp_rxn i L serial
pci_exp_rxp i L serial
user_clk o 1 clock
user_reset o 1 async
user_lnk_up o 1 user_clk
s_axis_rq_tdata i W user_clk
s_axis_rq_tkeep i K user_clk
s_axis_rq_tlast i 1 user_clk
s_axis_rq_tready o 4 user_clk
s_axis_rq_tuser i RQ user_clk
s_axis_rq_tvalid i 1 user_clk
m_axis_rc_tdata o W user_clk
m_axis_rc_tkeep o K user_clk
m_axis_rc_tlast o 1 user_clk
m_axis_rc_tready i 1 user_clk 1
m_axis_rc_tuser o RC user_clk
m_axis_rc_tvalid o 1 user_clk
m_axis_cq_tdata o W user_clk
m_axis_cq_tkeep o K user_clk
m_axis_cq_tlast o 1 user_clk
m_axis_cq_tready i 1 user_clk
m_axis_cq_tuser o CQ user_clk
m_axis_cq_tvalid o 1 user_clk
s_axis_cc_tdata i W user_clk
s_axis_cc_tkeep i K user_clk
s_axis_cc_tlast i 1 user_clk
s_axis_cc_tready o 4 user_clk
s_axis_cc_tuser i CC user_clk
s_axis_cc_tvalid i 1 user_clk
pcie_rq_seq_num0 o 6 user_clk
pcie_rq_seq_num_vld0 o 1 user_clk
pcie_rq_seq_num1 o 6 user_clk
pcie_rq_seq_num_vld1 o 1 user_clk
pcie_rq_tag0 o 8 user_clk
pcie_rq_tag1 o 8 user_clk
pcie_rq_tag_av o 4 user_clk
pcie_rq_tag_vld0 o 1 user_clk
pcie_rq_tag_vld1 o 1 user_clk
pcie_tfc_nph_av o 4 user_clk
pcie_tfc_npd_av o 4 user_clk
pcie_cq_np_req i 2 user_clk 1
pcie_cq_np_req_count o 6 user_clk
cfg_phy_link_down o 1 user_clk
cfg_phy_link_status o 2 user_clk
cfg_negotiated_width o 3 user_clk
cfg_current_speed o 2 user_clk
cfg_max_payload o 2 user_clk
cfg_max_read_req o 3 user_clk
cfg_function_status o 16 user_clk
cfg_function_power_state o 12 user_clk
cfg_vf_status o 504 user_clk
cfg_vf_power_state o 756 user_clk
cfg_link_power_state o 2 user_clk
cfg_mgmt_addr i 10 user_clk 0
cfg_mgmt_function_number i 8 user_clk 0
cfg_mgmt_write i 1 user_clk 0
cfg_mgmt_write_data i 32 user_clk 0
cfg_mgmt_byte_enable i 4 user_clk 0
cfg_mgmt_read i 1 user_clk 0
cfg_mgmt_read_data o 32 user_clk
cfg_mgmt_read_write_done o 1 user_clk
cfg_mgmt_debug_access i 1 user_clk 0
cfg_err_cor_out o 1 user_clk
cfg_err_nonfatal_out o 1 user_clk
cfg_err_fatal_out o 1 user_clk
cfg_local_error_valid o 1 user_clk
cfg_local_error_out o 5 user_clk
cfg_ltssm_state o 6 user_clk
cfg_rx_pm_state o 2 user_clk
cfg_tx_pm_state o 2 user_clk
cfg_rcb_status o 4 user_clk
cfg_obff_enable o 2 user_clk
cfg_pl_status_change o 1 user_clk
cfg_tph_requester_enable o 4 user_clk
cfg_tph_st_mode o 12 user_clk
cfg_vf_tph_requester_enable o 252 user_clk
cfg_vf_tph_st_mode o 756 user_clk
cfg_msg_received o 1 user_clk
cfg_msg_received_data o 8 user_clk
cfg_msg_received_type o 5 user_clk
cfg_msg_transmit i 1 user_clk 0
cfg_msg_transmit_type i 3 user_clk 0
cfg_msg_transmit_data i 32 user_clk 0
cfg_msg_transmit_done o 1 user_clk
cfg_fc_ph o 8 user_clk
cfg_fc_pd o 12 user_clk
cfg_fc_nph o 8 user_clk
cfg_fc_npd o 12 user_clk
cfg_fc_cplh o 8 user_clk
cfg_fc_cpld o 12 user_clk
cfg_fc_sel i 3 user_clk 0
cfg_dsn i 64 user_clk 0
cfg_bus_number o 8 user_clk
cfg_power_state_change_ack i 1 user_clk 1
cfg_power_state_change_interrupt o 1 user_clk
cfg_err_cor_in i 1 user_clk 0
cfg_err_uncor_in i 1 user_clk 0
cfg_flr_in_process o 4 user_clk
cfg_flr_done i 4 user_clk 0
cfg_vf_flr_in_process o 252 user_clk
cfg_vf_flr_func_num i 8 user_clk 0
cfg_vf_flr_done i 1 user_clk 0
cfg_link_training_enable i 1 user_clk 1
cfg_interrupt_int i 4 user_clk 0
cfg_interrupt_pending i 4 user_clk 0
cfg_interrupt_sent o 1 user_clk
cfg_interrupt_msi_enable o 4 user_clk
cfg_interrupt_msi_mmenable o 12 user_clk
cfg_interrupt_msi_mask_update o 1 user_clk
cfg_interrupt_msi_data o 32 user_clk
cfg_interrupt_msi_select i 2 user_clk 0
cfg_interrupt_msi_int i 32 user_clk 0
cfg_interrupt_msi_pending_status i 32 user_clk 0
cfg_interrupt_msi_pending_status_data_enable i 1 user_clk 0
cfg_interrupt_msi_pending_status_function_num i 2 user_clk 0
cfg_interrupt_msi_sent o 1 user_clk
cfg_interrupt_msi_fail o 1 user_clk
cfg_interrupt_msi_attr i 3 user_clk 0
cfg_interrupt_msi_tph_present i 1 user_clk 0
cfg_interrupt_msi_tph_type i 2 user_clk 0
cfg_interrupt_msi_tph_st_tag i 8 user_clk 0
cfg_interrupt_msi_function_number i 8 user_clk 0
cfg_pm_aspm_l1_entry_reject i 1 user_clk 0
cfg_pm_aspm_tx_l0s_entry_disable i 1 user_clk 0
cfg_hot_reset_out o 1 user_clk
cfg_config_space_enable i 1 user_clk 1
cfg_req_pm_transition_l23_ready i 1 user_clk 0
cfg_hot_reset_in i 1 user_clk 0
cfg_ds_port_number i 8 user_clk 0
cfg_ds_bus_number i 8 user_clk 0
cfg_ds_device_number i 5 user_clk 0
sys_clk i 1 clock
sys_clk_gt i 1 clock
sys_reset i 1 async
phy_rdy_out o 1 async
"""


@dataclass(frozen=True)
class PcieIp:
    """The ``pcie4_uscale_plus`` configuration of a board top.

    Members
    -------
    width : AXI-Stream datapath bits, 256 (Gen3 x8) or 512 (Gen3 x16).
    block, quad : the hard block site (``pcie_blk_locn``) and the GT quad of lane 0
        (``select_quad``); set explicitly rather than left to part defaults.
    subsystem_vendor, subsystem : the board's subsystem IDs.
    identity : vendor, device, class code and revision (default :data:`PCI_IDENTITY`).
    bar0_bytes : BAR0 aperture (the register map's size).
    max_payload : the Max_Payload_Size the function advertises (the DMA writer's largest).
    """
    width: int
    block: str
    quad: str
    subsystem_vendor: int
    subsystem: int
    identity: PciIdentity = PCI_IDENTITY
    bar0_bytes: int = BAR0_SIZE
    max_payload: int = MAX_PAYLOADS[-1]
    module: str = PCIE_MODULE

    def __post_init__(self):
        if self.width not in LINK_WIDTH:
            raise ValueError(f"PCIe datapath width must be 256 or 512 bits, not {self.width!r}")
        if self.max_payload not in MAX_PAYLOADS:
            raise ValueError(f"max payload must be one of {MAX_PAYLOADS}, not {self.max_payload!r}")
        b = self.bar0_bytes
        # PG213: memory BARs from 128 bytes, a power of two
        if b < 128 or b & (b - 1):
            raise ValueError(f"BAR0 size must be a power of two of at least 128 bytes, not {b!r}")

    @property
    def lanes(self) -> int:
        return LINK_WIDTH[self.width]

    @property
    def ports(self) -> tuple[Port, ...]:
        tu = TUSER[self.width]
        return _ports(_PCIE_SPEC, L=self.lanes, W=self.width, K=self.width // 32, RQ=tu["rq"],
                      RC=tu["rc"], CQ=tu["cq"], CC=tu["cc"])

    def bar0_scale(self) -> tuple[str, int]:
        """(``pf0_bar0_scale``, ``pf0_bar0_size``) of the BAR0 aperture."""
        for scale, unit in (("Gigabytes", 1 << 30), ("Megabytes", 1 << 20), ("Kilobytes", 1 << 10)):
            if self.bar0_bytes >= unit:
                return scale, self.bar0_bytes // unit
        return "Bytes", self.bar0_bytes

    def config(self) -> dict:
        """CONFIG keys and values (key names as in corundum/corundum@1ca0151b:fpga/mqnic/Alveo/
        fpga_25g/ip/pcie4_uscale_plus_0.tcl and the Xilinx board store's presets)."""
        ident = self.identity
        scale, size = self.bar0_scale()
        cfg = {
            "mode_selection": "Advanced",
            "PL_LINK_CAP_MAX_LINK_SPEED": "8.0_GT/s",
            "PL_LINK_CAP_MAX_LINK_WIDTH": f"X{self.lanes}",
            "axisten_if_width": f"{self.width}_bit",
            "axisten_freq": USER_CLOCK_HZ // 1_000_000,
            "pf0_dev_cap_max_payload": f"{self.max_payload}_bytes",
            "vendor_id": f"{ident.vendor:04x}",
            "PF0_DEVICE_ID": f"{ident.device:04x}",
            "PF0_REVISION_ID": f"{ident.revision:02x}",
            "PF0_SUBSYSTEM_VENDOR_ID": f"{self.subsystem_vendor:04x}",
            "PF0_SUBSYSTEM_ID": f"{self.subsystem:04x}",
            "PF0_Use_Class_Code_Lookup_Assistant": False,
            "PF0_CLASS_CODE": f"{ident.class_code:06x}",
            # Registers with read side effects (a low-half read latches the high half): a
            # 32-bit, non-prefetchable BAR, so nothing may prefetch or merge reads.
            "pf0_bar0_enabled": True,
            "pf0_bar0_type": "Memory",
            "pf0_bar0_64bit": False,
            "pf0_bar0_prefetchable": False,
            "pf0_bar0_scale": scale,
            "pf0_bar0_size": size,
            "pf0_msi_enabled": True,
            "pf0_msix_enabled": False,
            "en_gt_selection": True,
            "pcie_blk_locn": self.block,
            "select_quad": self.quad,
        }
        if self.width == 512:
            # the UltraScale+ adapter puts one TLP in a beat (no straddling)
            cfg["AXISTEN_IF_EXT_512_RQ_STRADDLE"] = False
            cfg["AXISTEN_IF_EXT_512_CQ_STRADDLE"] = False
        return cfg

    def tcl(self, ip_dir: str = "ip") -> str:
        return (f"# {self.module}: PCIe Gen3 x{self.lanes}, {self.width}-bit AXI-Stream at "
                f"{USER_CLOCK_HZ // 1_000_000} MHz, BAR0 {self.bar0_bytes} bytes\n"
                f"create_ip -name pcie4_uscale_plus -vendor xilinx.com -library ip "
                f"-module_name {self.module} -dir {ip_dir}\n" + _set_dict(self.module, self.config()))


# -- 10G/25G Ethernet subsystem ------------------------------------------------------------

# Tie-offs as AMD's instance (ethernet_krnl_axis_x1.sv): MAC enabled both ways, preamble and
# SFD checked, FCS checked and stripped, 64..9600-byte frames, no test patterns, IPG 12.
_MAC_SPEC = """
gt_txp_out o 1 serial
gt_txn_out o 1 serial
gt_rxp_in i 1 serial
gt_rxn_in i 1 serial
gt_refclk_p i 1 clock
gt_refclk_n i 1 clock
gt_refclk_out o 1 clock
dclk i 1 clock
sys_reset i 1 async
rx_core_clk_0 i 1 clock
tx_clk_out_0 o 1 clock
rx_clk_out_0 o 1 clock
rxrecclkout_0 o 1 clock
txoutclksel_in_0 i 3 async 5
rxoutclksel_in_0 i 3 async 5
gtwiz_reset_tx_datapath_0 i 1 async 0
gtwiz_reset_rx_datapath_0 i 1 async 0
gtpowergood_out_0 o 1 async
gt_loopback_in_0 i 3 async 0
qpllreset_in_0 i 1 async 0
rx_reset_0 i 1 async 0
user_rx_reset_0 o 1 async
rx_axis_tvalid_0 o 1 rx_clk_out_0
rx_axis_tdata_0 o 64 rx_clk_out_0
rx_axis_tlast_0 o 1 rx_clk_out_0
rx_axis_tkeep_0 o 8 rx_clk_out_0
rx_axis_tuser_0 o 1 rx_clk_out_0
rx_preambleout_0 o 56 rx_clk_out_0
ctl_rx_enable_0 i 1 rx_clk_out_0 1
ctl_rx_check_preamble_0 i 1 rx_clk_out_0 1
ctl_rx_check_sfd_0 i 1 rx_clk_out_0 1
ctl_rx_force_resync_0 i 1 rx_clk_out_0 0
ctl_rx_delete_fcs_0 i 1 rx_clk_out_0 1
ctl_rx_ignore_fcs_0 i 1 rx_clk_out_0 0
ctl_rx_max_packet_len_0 i 15 rx_clk_out_0 9600
ctl_rx_min_packet_len_0 i 8 rx_clk_out_0 64
ctl_rx_process_lfi_0 i 1 rx_clk_out_0 0
ctl_rx_test_pattern_0 i 1 rx_clk_out_0 0
ctl_rx_data_pattern_select_0 i 1 rx_clk_out_0 0
ctl_rx_test_pattern_enable_0 i 1 rx_clk_out_0 0
ctl_rx_custom_preamble_enable_0 i 1 rx_clk_out_0 0
stat_rx_framing_err_0 o 1 rx_clk_out_0
stat_rx_framing_err_valid_0 o 1 rx_clk_out_0
stat_rx_local_fault_0 o 1 rx_clk_out_0
stat_rx_block_lock_0 o 1 rx_clk_out_0
stat_rx_valid_ctrl_code_0 o 1 rx_clk_out_0
stat_rx_status_0 o 1 rx_clk_out_0
stat_rx_remote_fault_0 o 1 rx_clk_out_0
stat_rx_bad_fcs_0 o 2 rx_clk_out_0
stat_rx_stomped_fcs_0 o 2 rx_clk_out_0
stat_rx_truncated_0 o 1 rx_clk_out_0
stat_rx_internal_local_fault_0 o 1 rx_clk_out_0
stat_rx_received_local_fault_0 o 1 rx_clk_out_0
stat_rx_hi_ber_0 o 1 rx_clk_out_0
stat_rx_got_signal_os_0 o 1 rx_clk_out_0
stat_rx_test_pattern_mismatch_0 o 1 rx_clk_out_0
stat_rx_total_bytes_0 o 4 rx_clk_out_0
stat_rx_total_packets_0 o 2 rx_clk_out_0
stat_rx_total_good_bytes_0 o 14 rx_clk_out_0
stat_rx_total_good_packets_0 o 1 rx_clk_out_0
stat_rx_packet_bad_fcs_0 o 1 rx_clk_out_0
stat_rx_packet_64_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_65_127_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_128_255_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_256_511_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_512_1023_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_1024_1518_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_1519_1522_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_1523_1548_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_1549_2047_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_2048_4095_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_4096_8191_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_8192_9215_bytes_0 o 1 rx_clk_out_0
stat_rx_packet_small_0 o 1 rx_clk_out_0
stat_rx_packet_large_0 o 1 rx_clk_out_0
stat_rx_unicast_0 o 1 rx_clk_out_0
stat_rx_multicast_0 o 1 rx_clk_out_0
stat_rx_broadcast_0 o 1 rx_clk_out_0
stat_rx_oversize_0 o 1 rx_clk_out_0
stat_rx_toolong_0 o 1 rx_clk_out_0
stat_rx_undersize_0 o 1 rx_clk_out_0
stat_rx_fragment_0 o 1 rx_clk_out_0
stat_rx_vlan_0 o 1 rx_clk_out_0
stat_rx_inrangeerr_0 o 1 rx_clk_out_0
stat_rx_jabber_0 o 1 rx_clk_out_0
stat_rx_bad_code_0 o 1 rx_clk_out_0
stat_rx_bad_sfd_0 o 1 rx_clk_out_0
stat_rx_bad_preamble_0 o 1 rx_clk_out_0
tx_reset_0 i 1 async 0
user_tx_reset_0 o 1 async
tx_axis_tready_0 o 1 tx_clk_out_0
tx_axis_tvalid_0 i 1 tx_clk_out_0 0
tx_axis_tdata_0 i 64 tx_clk_out_0 0
tx_axis_tlast_0 i 1 tx_clk_out_0 0
tx_axis_tkeep_0 i 8 tx_clk_out_0 0
tx_axis_tuser_0 i 1 tx_clk_out_0 0
tx_unfout_0 o 1 tx_clk_out_0
tx_preamblein_0 i 56 tx_clk_out_0 0
stat_tx_local_fault_0 o 1 tx_clk_out_0
stat_tx_total_bytes_0 o 4 tx_clk_out_0
stat_tx_total_packets_0 o 1 tx_clk_out_0
stat_tx_total_good_bytes_0 o 14 tx_clk_out_0
stat_tx_total_good_packets_0 o 1 tx_clk_out_0
stat_tx_bad_fcs_0 o 1 tx_clk_out_0
stat_tx_packet_64_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_65_127_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_128_255_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_256_511_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_512_1023_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_1024_1518_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_1519_1522_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_1523_1548_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_1549_2047_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_2048_4095_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_4096_8191_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_8192_9215_bytes_0 o 1 tx_clk_out_0
stat_tx_packet_small_0 o 1 tx_clk_out_0
stat_tx_packet_large_0 o 1 tx_clk_out_0
stat_tx_unicast_0 o 1 tx_clk_out_0
stat_tx_multicast_0 o 1 tx_clk_out_0
stat_tx_broadcast_0 o 1 tx_clk_out_0
stat_tx_vlan_0 o 1 tx_clk_out_0
stat_tx_frame_error_0 o 1 tx_clk_out_0
ctl_tx_enable_0 i 1 tx_clk_out_0 1
ctl_tx_send_rfi_0 i 1 tx_clk_out_0 0
ctl_tx_send_lfi_0 i 1 tx_clk_out_0 0
ctl_tx_send_idle_0 i 1 tx_clk_out_0 0
ctl_tx_fcs_ins_enable_0 i 1 tx_clk_out_0 1
ctl_tx_ignore_fcs_0 i 1 tx_clk_out_0 0
ctl_tx_test_pattern_0 i 1 tx_clk_out_0 0
ctl_tx_test_pattern_enable_0 i 1 tx_clk_out_0 0
ctl_tx_test_pattern_select_0 i 1 tx_clk_out_0 0
ctl_tx_data_pattern_select_0 i 1 tx_clk_out_0 0
ctl_tx_test_pattern_seed_a_0 i 58 tx_clk_out_0 0
ctl_tx_test_pattern_seed_b_0 i 58 tx_clk_out_0 0
ctl_tx_ipg_value_0 i 4 tx_clk_out_0 12
ctl_tx_custom_preamble_enable_0 i 1 tx_clk_out_0 0
"""

# PG210 "10G/25G MAC with PCS/PMA Clocking": 64-bit datapath user clock per line rate
MAC_USER_CLOCK_HZ = {10: 156_250_000, 25: 390_625_000}


@dataclass(frozen=True)
class MacIp:
    """The ``xxv_ethernet`` configuration of a board top.

    Members
    -------
    line_rate : 10 or 25 (Gb/s); the RX user clock is 156.25 or 390.625 MHz.
    refclk_hz : the transceiver reference clock on the board.
    gt_group, lane_loc : the GT quad and channel of the QSFP lane (``GT_GROUP_SELECT``,
        ``LANE1_GT_LOC``).
    drp_clk_hz : the free-running clock on ``dclk`` (``GT_DRP_CLK``).
    """
    line_rate: int
    refclk_hz: float
    gt_group: str
    lane_loc: str
    drp_clk_hz: float
    module: str = MAC_MODULE
    ports: tuple[Port, ...] = field(default=_ports(_MAC_SPEC), repr=False)

    def __post_init__(self):
        if self.line_rate not in MAC_USER_CLOCK_HZ:
            raise ValueError(f"MAC line rate must be 10 or 25 (Gb/s), not {self.line_rate!r}")

    @property
    def user_clock_hz(self) -> int:
        return MAC_USER_CLOCK_HZ[self.line_rate]

    def config(self) -> dict:
        """CONFIG keys as AMD's Alveo example sets them (Xilinx/Vitis-Tutorials@26f42dee:
        Hardware_Acceleration/Feature_Tutorials/09-using-ethernet-on-alveo/gen_ip_x1.tcl), with
        the core type, datapath, GT placement and user FIFO spelled out as public block designs
        spell them (``CORE``, ``DATA_PATH_INTERFACE``, ``GT_LOCATION``, ``INCLUDE_USER_FIFO``).
        With the user FIFO, ``rx_core_clk`` may be any clock of the RX clock's frequency; it is
        driven by ``rx_clk_out`` itself (PG210 "AXI4-Stream Clocks and Resets")."""
        return {
            "NUM_OF_CORES": 1,
            "CORE": "Ethernet MAC+PCS/PMA 64-bit",
            "DATA_PATH_INTERFACE": "AXI Stream",
            "GT_LOCATION": 1,                   # transceiver and its pins inside the core
            "INCLUDE_USER_FIFO": 1,
            "LINE_RATE": self.line_rate,
            "BASE_R_KR": "BASE-R",
            "INCLUDE_AXI4_INTERFACE": 0,
            "ENABLE_PIPELINE_REG": 1,
            "GT_TYPE": "GTY",
            "GT_REF_CLK_FREQ": _mhz(self.refclk_hz),
            "GT_DRP_CLK": f"{self.drp_clk_hz / 1e6:.2f}",
            "GT_GROUP_SELECT": self.gt_group,
            "LANE1_GT_LOC": self.lane_loc,
        }

    def tcl(self, ip_dir: str = "ip") -> str:
        return (f"# {self.module}: {self.line_rate}GBASE-R, MAC + PCS/PMA, 64-bit AXI-Stream at "
                f"{_mhz(self.user_clock_hz)} MHz, reference clock {_mhz(self.refclk_hz)} MHz\n"
                f"create_ip -name xxv_ethernet -vendor xilinx.com -library ip "
                f"-module_name {self.module} -dir {ip_dir}\n" + _set_dict(self.module, self.config()))


def _mhz(hz: float) -> str:
    """MHz as Vivado's IP GUI writes it: up to 7 decimals, no trailing zeros."""
    return f"{hz / 1e6:.7f}".rstrip("0").rstrip(".")


def blackbox_verilog(module: str, ports) -> str:
    """A ``(* blackbox *)`` module with the IP's ports, for yosys and Verilator (what the
    ``_stub.v`` Vivado writes is to its synthesis)."""
    decl = []
    for p in ports:
        rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
        decl.append(f"  {'input' if p.dir == 'i' else 'output'} wire {rng}{p.name};")
    names = ", ".join(p.name for p in ports)
    return f"(* blackbox *)\nmodule {module}({names});\n" + "\n".join(decl) + "\nendmodule\n"
