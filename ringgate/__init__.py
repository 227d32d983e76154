"""ringgate: the FPGA path of an exchange order gateway, designed in Python end to end.

The one import root: ``ringgate.contracts`` (the hardware/software contracts), ``ringgate.model``
(the golden model), ``ringgate.hw`` (gateware), ``ringgate.sw`` (host software), ``ringgate.sim``
(simulation) and ``ringgate.app`` (the command line, main job, reports, benchmarks), in that order
from the bottom: imports point down only.
"""
