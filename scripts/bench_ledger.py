"""What the ledger costs a cron run: hashing new files vs the path+size+mtime check of known ones.

    python scripts/bench_ledger.py [--files 64] [--mb 8]

Writes FILES random files of MB each to a temporary folder, then times, side by side in one run:
the first scan (every file new: sha256 of all bytes), a second scan (nothing new: stat only), and a
scan after one file was touched (one file hashed again, found unchanged by content).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from curate.inputs import resolve_inputs
from curate.ledger import Ledger


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=64)
    ap.add_argument("--mb", type=float, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="curate-bench-ledger-") as tmp:
        root = Path(tmp)
        size = int(args.mb * 1e6)
        for i in range(args.files):
            (root / "crawl" / f"seg{i % 4}").mkdir(parents=True, exist_ok=True)
            (root / "crawl" / f"seg{i % 4}" / f"f{i:05d}.warc.gz").write_bytes(os.urandom(size))
        shards = resolve_inputs([str(root / "crawl" / "**" / "*.warc.gz")], (".warc.gz",))
        ledger = Ledger(root / "run")

        def timed(label: str):
            t0 = time.perf_counter()
            delta = ledger.scan(shards)
            dt = time.perf_counter() - t0
            print(f"{label:<28} {dt:8.3f} s  hashed {delta.hashed:>4} files  new {len(delta.new):>4}  "
                  f"skipped {len(delta.skipped):>4}")
            return delta, dt

        total_mb = args.files * size / 1e6
        print(f"{args.files} files, {total_mb:,.0f} MB")
        delta, first = timed("first scan (all new)")
        print(f"{'':<28} {total_mb / first:8.0f} MB/s sha256")
        ledger.commit("b1", delta.new, delta)
        ledger = Ledger.load(root / "run")
        _, second = timed("second scan (nothing new)")
        os.utime(shards[0].path)
        _, third = timed("after touching one file")
        print(f"first / second: {first / second:,.0f}x")


if __name__ == "__main__":
    main()
