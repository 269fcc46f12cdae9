"""Time curate's filter tokenizer against another version of it, side by side in one process.

For changes to curate/stages/filter/tokenize.py: save the previous version
(`git show main:curate/stages/filter/tokenize.py > /tmp/tokenize_old.py`), then

    python scripts/bench_tokenize.py /tmp/tokenize_old.py [--pairs 15]

Both tokenize the lines of bench_filter's corpus in interleaved pairs (order alternating, CPU
time); prints the median of the per-pair time ratios and how many lines tokenize differently.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_filter_corpus import corpus  # noqa: E402

import curate.stages.filter.tokenize as current  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", help="the other tokenize.py")
    ap.add_argument("--pairs", type=int, default=15)
    ap.add_argument("--generated", type=int, default=2500, help="documents generated from lingua sentences")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("tokenize_other", args.other)
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    docs = [d["text"].split("\n") for d in corpus(args.generated)]

    def timed(module) -> float:
        t = time.process_time()
        for lines in docs:
            module.words_per_line(lines)
        return time.process_time() - t

    ratios = []
    for i in range(args.pairs):
        a, b = (timed(other), timed(current)) if i % 2 else (timed(current), timed(other))[::-1]
        ratios.append(b / a)
    n_lines = sum(map(len, docs))
    differ = sum(current.spacy_tokens(line) != getattr(other, "spacy_tokens", getattr(other, "words", None))(line) for lines in docs for line in lines)
    print(f"{n_lines:,} lines; this tokenizer's CPU time / the other's: median of {args.pairs} pairs "
          f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}); {differ:,} lines tokenized differently")


if __name__ == "__main__":
    main()
