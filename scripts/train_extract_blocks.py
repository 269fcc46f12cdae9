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
Each dev set gets the same total weight. A one-hidden-layer network (or, with --hidden 0, a
logistic regression) on standardised features, weighted cross-entropy, full-batch Adam in numpy. The keep threshold is the one that maximises the mean F1 of the two
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

from curate.stages.extract.block_model import FEATURES, MODEL_PATH, BlockModel, block_features  # noqa: E402
from curate.stages.extract.boilerplate import ExtractOptions, model_blocks, select_lines  # noqa: E402

_SPACE = re.compile(r"\s+")


def norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def readability_labels(blocks, gold: str) -> list[float | None]:
    gold_norm, gold_sh = norm(gold), bench.shingles(gold)
    labels = []
    for text in blocks.texts:
        t = norm(text)
        if t and t in gold_norm:
            labels.append(1.0)
            continue
        sh = bench.shingles(text)
        labels.append(1.0 if len(text.split()) >= 4 and sh and len(sh & gold_sh) / len(sh) >= 0.5 else 0.0)
    return labels


def trafeval_labels(blocks, page: dict) -> list[float | None]:
    with_, without = [norm(s) for s in page["with"]], [norm(s) for s in page["without"]]
    labels: list[float | None] = []
    for text in blocks.texts:
        t = norm(text)
        pos, neg = any(s in t for s in with_), any(s in t for s in without)
        labels.append(1.0 if pos and not neg else 0.0 if neg and not pos else None)
    return labels


def page_data(pages: list[dict], dataset: str, opts: ExtractOptions) -> list[tuple[dict, list, np.ndarray, list]]:
    out = []
    for p in pages:
        tree = HTMLTree.parse(p["html"])
        title = (tree.title or "").strip() or None
        blocks, has_root = model_blocks(tree, p["html"], opts)
        x = block_features(blocks, has_root, title and " ".join(title.split()))
        y = readability_labels(blocks, p["gold"]) if dataset == "readability" else trafeval_labels(blocks, p)
        out.append((p, blocks, x, y))
    return out


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, hidden: int, l2: float, seed: int, steps: int = 3000) -> list:
    """Weighted binary cross-entropy, full-batch Adam; `hidden` tanh units (0 = logistic regression)."""
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1]] + ([hidden] if hidden else []) + [1]
    params = []
    for a, b in zip(sizes, sizes[1:]):
        params += [rng.normal(0, 1 / np.sqrt(a), (a, b)), np.zeros(b)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    w = w / w.sum()
    for t in range(1, steps + 1):
        acts = [x]
        h = x
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k + 2 < len(params):
                h = np.tanh(h)
            acts.append(h)
        p = 1 / (1 + np.exp(-acts[-1][:, 0]))
        delta = ((p - y) * w)[:, None]
        grads = [None] * len(params)
        for k in range(len(params) - 2, -1, -2):
            grads[k] = acts[k // 2].T @ delta + l2 * params[k]
            grads[k + 1] = delta.sum(0)
            if k:
                delta = (delta @ params[k].T) * (1 - acts[k // 2] ** 2)
        for k, g in enumerate(grads):
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            params[k] -= 0.01 * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
    return [(params[k], params[k + 1]) for k in range(0, len(params), 2)]


def half_f1(dataset: str, data, model: BlockModel, threshold: float, opts: ExtractOptions) -> float:
    outputs = []
    for _p, blocks, x, _y in data:
        prob = 1 / (1 + np.exp(-model.logits(x))) if len(blocks) else np.zeros(0)
        outputs.append("\n".join(select_lines(blocks, prob, threshold, opts)))
    return bench.score(dataset, outputs, [d[0] for d in data])["F1"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--hidden", type=int, default=16, help="hidden tanh units (0 = logistic regression)")
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zero", default="", help="comma-separated features to zero (an ablation: does the model need them?)")
    args = ap.parse_args()
    opts = ExtractOptions()
    sets = {
        "readability": [p for p in bench.load_readability() if p["half"] == "tune"],
        "trafeval": [p for p in bench.load_trafeval() if p["half"] == "tune"],
    }
    data = {name: page_data(pages, name, opts) for name, pages in sets.items()}
    zero = [FEATURES.index(f) for f in args.zero.split(",") if f]
    for rows in data.values():
        for r in rows:
            r[2][:, zero] = 0.0
    xs, ys, ws = [], [], []
    for name, rows in data.items():
        x = np.vstack([r[2] for r in rows if len(r[1])])
        y = np.asarray([v if v is not None else np.nan for r in rows for v in r[3]])
        keep = ~np.isnan(y)
        xs.append(x[keep])
        ys.append(y[keep])
        ws.append(np.full(keep.sum(), 1.0 / keep.sum()))
        print(f"{name}: {len(rows)} tuning pages, {keep.sum()} labelled blocks ({int(y[keep].sum())} main text)")
    x, y, w = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    mean[0], scale[0] = 0.0, 1.0  # the bias column stays 1
    layers = fit((x - mean) / scale, y, w, args.hidden, args.l2, args.seed)
    model_data = {"features": list(FEATURES), "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
                  "layers": [(wt.round(6).tolist(), b.round(6).tolist()) for wt, b in layers], "threshold": 0.5}
    model = BlockModel(model_data)
    grid = [round(t, 2) for t in np.arange(0.2, 0.81, 0.05)]
    f1 = {t: {name: half_f1(name, rows, model, t, opts) for name, rows in data.items()} for t in grid}
    threshold = max(grid, key=lambda t: sum(f1[t].values()))
    for t in grid:
        print(f"threshold {t:.2f}: " + "  ".join(f"{n} F1 {v:.3f}" for n, v in f1[t].items()) + ("  <- chosen" if t == threshold else ""))
    model_data.update(
        about="curate extract block classifier over block features (curate/stages/extract/block_model.py). Rebuilt by "
              "scripts/train_extract_blocks.py from the tuning halves of Mozilla Readability's test pages and trafilatura's "
              "evaluation pages (both Apache-2.0). The weights are released with curate under its licence.",
        threshold=threshold, hidden=args.hidden, l2=args.l2, seed=args.seed, tuning_f1=f1[threshold])
    args.out.write_text(json.dumps(model_data, separators=(",", ":")) + "\n")
    if not args.hidden:
        for name, b in sorted(zip(FEATURES, layers[0][0][:, 0]), key=lambda z: -abs(z[1])):
            print(f"  {name:18} {b:+.3f}")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
