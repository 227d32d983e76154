"""``ringgate send`` and ``ringgate datagram`` through the CLI."""
from click.testing import CliRunner

from ringgate.app.cli import main
from ringgate.contracts.datagram import Endpoint, markdown
from ringgate.model.ingress import IngressModel
from ringgate.sw.sender import read_pcap


def test_send_pcap_is_accepted_by_the_model(tmp_path):
    path = tmp_path / "o.pcap"
    r = CliRunner().invoke(main, ["send", "--pcap", str(path), "-n", "50", "--per-datagram", "4", "--session", "2"])
    assert r.exit_code == 0, r.output
    assert "50 orders in 13 datagrams (session 2, seq 1..13)" in r.output
    model = IngressModel(Endpoint.of("02:52:47:00:00:01", "10.0.0.2", 9000))
    outs = [model.frame(f) for f in read_pcap(path)]
    assert all(o.drop is None for o in outs) and model.counters["ENTRIES"] == 50


def test_send_refuses_bad_options(tmp_path):
    r = CliRunner().invoke(main, ["send", "-n", "5"])
    assert r.exit_code != 0 and "exactly one of --udp" in r.output
    r = CliRunner().invoke(main, ["send", "--udp", "localhost", "-n", "5"])
    assert r.exit_code != 0 and "HOST:PORT" in r.output
    r = CliRunner().invoke(main, ["send", "--pcap", str(tmp_path / "x"), "--per-datagram", "40"])
    assert r.exit_code != 0 and "--per-datagram" in r.output


def test_datagram_tables():
    r = CliRunner().invoke(main, ["datagram"])
    assert r.exit_code == 0
    for what in ("frame", "header", "message", "drops", "registers"):
        assert markdown(what) in r.output
