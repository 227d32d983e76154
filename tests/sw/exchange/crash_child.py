"""Child process for test_crash: journal commands as fast as possible, printing the last
acknowledged sequence number after every batch, until it is killed."""
from __future__ import annotations

import sys

from ringgate.sw.exchange import Exchange, FsyncPolicy
from tests.sw.exchange.streams import batches


def main(directory: str, seed: int, policy: str, background: bool) -> None:
    ticks = iter(range(1, 10**9))
    ex = Exchange.open(directory, fsync=FsyncPolicy(policy), snapshot_every=1500, clock=lambda: next(ticks),
                       background_snapshots=background)
    out = sys.stdout
    for batch in batches(seed):
        results = ex.submit_many(batch)
        out.write(f"{results[-1].seq}\n")
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "background")
