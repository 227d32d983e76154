"""Benches of the network ingress (hw/ingress) on Verilator: two clocks, frames at wire timing."""
