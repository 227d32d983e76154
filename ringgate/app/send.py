"""``ringgate send``: order datagrams to a UDP socket or into a pcap file (docs/ingress.md)."""
from __future__ import annotations

from pathlib import Path

import click

from ringgate.contracts.datagram import MAX_MESSAGES, Endpoint

__all__ = ["send"]


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--udp")
    return host or "127.0.0.1", int(port)


@click.command("send")
@click.option("--udp", "udp", metavar="HOST:PORT", help="Send over a UDP socket to HOST:PORT.")
@click.option("--pcap", "pcap", type=click.Path(dir_okay=False, path_type=Path),
              help="Write Ethernet frames into a pcap file instead.")
@click.option("--orders", "-n", default=1000, show_default=True, help="Orders (exchange-core's benchmark mix).")
@click.option("--per-datagram", default=1, show_default=True, help=f"Orders per datagram (1..{MAX_MESSAGES}).")
@click.option("--session", default=0, show_default=True, help="Session id.")
@click.option("--first-seq", default=1, show_default=True, help="Sequence number of the first datagram.")
@click.option("--seed", default=1, show_default=True)
@click.option("--dst", default="02:52:47:00:00:01/10.0.0.2/9000", show_default=True,
              help="pcap: destination MAC/IP/port (the FPGA's MAC_ADDR, IP_ADDR, UDP_PORT).")
@click.option("--src", default="02:52:47:00:00:02/10.0.0.1/40000", show_default=True, help="pcap: source MAC/IP/port.")
@click.option("--vlan", type=int, help="pcap: add an 802.1Q tag with this VLAN id.")
@click.option("--udp-checksum", is_flag=True, help="pcap: compute UDP checksums (default 0: the FPGA publishes sooner).")
@click.option("--interval-us", default=0, show_default=True, help="pcap: timestamp step between frames.")
def send(udp, pcap, orders, per_datagram, session, first_seq, seed, dst, src, vlan, udp_checksum, interval_us):
    """Send N orders of exchange-core's mix as order datagrams (one session, numbered from --first-seq)."""
    from ringgate.sim.traffic import make_traffic
    from ringgate.sw.sender import DatagramSender, PcapTransport, UdpTransport

    if (udp is None) == (pcap is None):
        raise click.UsageError("give exactly one of --udp HOST:PORT or --pcap FILE")
    if not 1 <= per_datagram <= MAX_MESSAGES:
        raise click.BadParameter(f"must be 1..{MAX_MESSAGES}, not {per_datagram}", param_hint="--per-datagram")
    if orders < 1:
        raise click.BadParameter(f"must be >= 1, not {orders}", param_hint="--orders")

    def endpoint(text, hint):
        try:
            return Endpoint.parse(text)
        except ValueError as e:
            raise click.BadParameter(f"{text!r} is not MAC/IP/PORT ({e})", param_hint=hint) from None

    resting = max(1, min(1000, orders // 10))
    tr = make_traffic(max(orders - resting, 0), users=max(10, min(1000, orders // 4)), resting=resting, seed=seed)
    entries = tr.entries[:orders]
    if udp:
        transport = UdpTransport(*_hostport(udp))
    else:
        transport = PcapTransport(pcap, endpoint(src, "--src"), endpoint(dst, "--dst"), vlan=vlan,
                                  udp_checksum_on=udp_checksum, interval_us=interval_us)
    sender = DatagramSender(transport, session=session, first_seq=first_seq, per_datagram=per_datagram)
    try:
        seqs = sender.send(entries)
    finally:
        sender.close()
    where = f"udp://{udp}" if udp else str(pcap)
    click.echo(f"{sender.sent_orders} orders in {sender.sent_datagrams} datagrams (session {session}, "
               f"seq {seqs[0]}..{seqs[-1]}) -> {where}")
