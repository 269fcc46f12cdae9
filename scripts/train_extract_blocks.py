"""Rebuild curate/stages/extract/block_model.json: the block classifier of `curate extract`.

Trained on the TUNING halves only (bench_extract.dev_half: SHA-1 of the file name, even last
byte) of the two dev sets in ../shared/data (both Apache-2.0: Mozilla Readability's test pages
and trafilatura's evaluation pages); the check halves are never read here, so
`scripts/bench_extract.py` can report them as unseen pages.

Labels per block (a line of resiliparse's main-content output, see blocks.py):
- readability: 1 when the block's text occurs in the gold article or at least half of its word
  4-grams do, else 0;
- trafilatura_eval: 1 when the block contains a `with` snippet, 0 when it contains a `without`
  snippet, unlabelled otherwise.
Each dev set gets the same total weight. Logistic regression with an L2 penalty, fitted by
Newton's method in numpy. The keep threshold is the one that maximises the mean F1 of the two
tuning halves, scored as scripts/bench_extract.py scores them.

    python scripts/train_extract_blocks.py [--out curate/stages/extract/block_model.json] [--l2 1.0]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from resiliparse.parse.html import HTMLTree

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as bench  # noqa: E402

from curate.stages.extract.block_model import FEATURES, MODEL_PATH, block_features  # noqa: E402
from curate.stages.extract.boilerplate import ExtractOptions, page_blocks  # noqa: E402

_SPACE = re.compile(r"\s+")


def norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def readability_labels(blocks, gold: str) -> list[float | None]:
    gold_norm, gold_sh = norm(gold), bench.shingles(gold)
    labels = []
    for b in blocks:
        t = norm(b.text)
        if t and t in gold_norm:
            labels.append(1.0)
            continue
        sh = bench.shingles(b.text)
        labels.append(1.0 if len(b.text.split()) >= 4 and sh and len(sh & gold_sh) / len(sh) >= 0.5 else 0.0)
    return labels


def trafeval_labels(blocks, page: dict) -> list[float | None]:
    with_, without = [norm(s) for s in page["with"]], [norm(s) for s in page["without"]]
    labels: list[float | None] = []
    for b in blocks:
        t = norm(b.text)
        pos, neg = any(s in t for s in with_), any(s in t for s in without)
        labels.append(1.0 if pos and not neg else 0.0 if neg and not pos else None)
    return labels


def page_data(pages: list[dict], dataset: str, opts: ExtractOptions) -> list[tuple[dict, list, np.ndarray, list]]:
    out = []
    for p in pages:
        blocks = page_blocks(HTMLTree.parse(p["html"]), p["html"], opts)
        x = block_features(blocks)
        y = readability_labels(blocks, p["gold"]) if dataset == "readability" else trafeval_labels(blocks, p)
        out.append((p, blocks, x, y))
    return out


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float, steps: int = 30) -> np.ndarray:
    """Weighted L2 logistic regression by Newton's method (34 features: a 34×34 solve per step)."""
    beta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0  # no penalty on the bias
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ beta)))
        grad = x.T @ (w * (p - y)) + penalty * beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    return beta


def half_f1(dataset: str, data, beta: np.ndarray, threshold: float) -> float:
    outputs = []
    for _p, blocks, x, _y in data:
        keep = (1 / (1 + np.exp(-(x @ beta))) >= threshold) if len(blocks) else []
        outputs.append("\n".join(b.text for b, k in zip(blocks, keep) if k))
    return bench.score(dataset, outputs, [d[0] for d in data])["F1"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--l2", type=float, default=1.0)
    args = ap.parse_args()
    opts = ExtractOptions()
    sets = {
        "readability": [p for p in bench.load_readability() if p["half"] == "tune"],
        "trafeval": [p for p in bench.load_trafeval() if p["half"] == "tune"],
    }
    data = {name: page_data(pages, name, opts) for name, pages in sets.items()}
    xs, ys, ws = [], [], []
    for name, rows in data.items():
        x = np.vstack([r[2] for r in rows if len(r[1])])
        y = np.asarray([v if v is not None else np.nan for r in rows for v in r[3]])
        keep = ~np.isnan(y)
        xs.append(x[keep])
        ys.append(y[keep])
        ws.append(np.full(keep.sum(), 1.0 / keep.sum()))
        print(f"{name}: {len(rows)} tuning pages, {keep.sum()} labelled blocks ({int(y[keep].sum())} main text)")
    x, y, w = np.vstack(xs), np.concatenate(ys), np.concatenate(ws) * 1000
    beta = fit(x, y, w, args.l2)
    grid = [round(t, 2) for t in np.arange(0.2, 0.81, 0.05)]
    f1 = {t: {name: half_f1(name, rows, beta, t) for name, rows in data.items()} for t in grid}
    threshold = max(grid, key=lambda t: sum(f1[t].values()))
    for t in grid:
        print(f"threshold {t:.2f}: " + "  ".join(f"{n} F1 {v:.3f}" for n, v in f1[t].items()) + ("  <- chosen" if t == threshold else ""))
    model = {
        "about": "curate extract block classifier: logistic regression over block features (curate/stages/extract/block_model.py). "
                 "Rebuilt by scripts/train_extract_blocks.py from the tuning halves of Mozilla Readability's test pages and "
                 "trafilatura's evaluation pages (both Apache-2.0). The weights are released with curate under its licence.",
        "features": list(FEATURES),
        "weights": [round(float(b), 5) for b in beta],
        "threshold": threshold,
        "l2": args.l2,
        "tuning_f1": f1[threshold],
    }
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    for name, b in sorted(zip(FEATURES, beta), key=lambda z: -abs(z[1])):
        print(f"  {name:18} {b:+.3f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
