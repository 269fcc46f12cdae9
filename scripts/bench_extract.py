"""Side-by-side main-content extraction benchmark: curate vs trafilatura vs raw resiliparse.

On the Readability test pages (../shared/data/readability_testpages: 130 real pages with
Readability's expected article), in ONE process on ONE core, every extractor sees the same
decoded HTML. Accuracy: per document, precision and recall of word 4-gram shingles of the
extracted text against the gold text (expected.html with its tags stripped), F1 per document,
then averaged over documents. Speed: documents per second per core (extraction only; the
HTML is decoded beforehand, identically for all).

    python scripts/bench_extract.py [--pages DIR] [--repeat 3] [--real-only] [--crawl data/sample]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from resiliparse.extract.html2text import extract_plain_text

from curate.inputs import resolve_inputs
from curate.stages.extract import ExtractStage
from curate.stages.extract.boilerplate import ExtractOptions, extract_main_text
from curate.stages.extract.html import decode_html

DEFAULT_PAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "readability_testpages" / "pages"
_WORD = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def prf(pred: str, gold: str) -> tuple[float, float, float]:
    p_sh, g_sh = shingles(pred), shingles(gold)
    if not p_sh and not g_sh:
        return 1.0, 1.0, 1.0
    if not p_sh or not g_sh:
        return 0.0, 0.0, 0.0
    common = len(p_sh & g_sh)
    p, r = common / len(p_sh), common / len(g_sh)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load_pages(folder: Path, real_only: bool) -> list[dict]:
    pages = []
    for d in sorted(folder.iterdir()):
        meta = json.loads((d / "expected-metadata.json").read_text())
        # Synthetic unit cases (001, 002, ...) and pages Readability marks as non-articles.
        if real_only and (d.name[0].isdigit() or not meta.get("readerable", True)):
            continue
        raw = gzip.decompress((d / "source.html.gz").read_bytes())
        html, _ = decode_html(raw)
        gold_html, _ = decode_html(gzip.decompress((d / "expected.html.gz").read_bytes()))
        gold = extract_plain_text(gold_html, preserve_formatting=True, main_content=False, alt_texts=False)
        pages.append({"name": d.name, "raw": raw, "html": html, "gold": gold})
    return pages


def run_curate(html: str) -> str:
    return extract_main_text(html, OPTIONS)[0]


def run_resiliparse(html: str) -> str:
    return extract_plain_text(html, main_content=True)


def run_trafilatura(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=False) or ""


OPTIONS = ExtractOptions()
EXTRACTORS = {"curate": run_curate, "trafilatura (favor_precision)": run_trafilatura, "resiliparse (main_content)": run_resiliparse}


def stage_speed(inputs: list[str], extractor: str, repeat: int) -> float:
    """Docs/s of the whole extract stage (read, decode, extract, lid.176) over archives or .html files."""
    stage = ExtractStage(extractor=extractor)
    stage.setup()
    shards = resolve_inputs(inputs, stage.input_suffixes)
    best, docs = float("inf"), 0
    for i in range(repeat + 1):  # the first pass warms up (model load, caches) and is not counted
        t0 = time.perf_counter()
        docs = sum(1 for shard in shards for _doc in stage.process(stage.read(shard)))
        if i:
            best = min(best, time.perf_counter() - t0)
    return docs / best


def print_stage_speeds(label: str, inputs: list[str], repeat: int) -> None:
    ours, theirs = stage_speed(inputs, "curate", repeat), stage_speed(inputs, "trafilatura", min(repeat, 2))
    print(f"whole extract stage on {label} (read, decode, extract, lid.176), docs/s/core: "
          f"extractor=curate {ours:.0f}, extractor=trafilatura {theirs:.0f}, ratio {ours / theirs:.1f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    ap.add_argument("--repeat", type=int, default=3, help="timing passes per extractor (fastest kept)")
    ap.add_argument("--real-only", action="store_true", help="only real article pages (no synthetic, readerable)")
    ap.add_argument("--only", default="", help="comma-separated extractor name prefixes to run")
    ap.add_argument("--crawl", type=Path, help="also time the whole stage on these archives (e.g. a `curate demo-crawl` folder)")
    ap.add_argument("--worst", type=int, default=0, help="print the N worst pages for curate")
    args = ap.parse_args()
    if not args.pages.is_dir():
        sys.exit(f"no test pages at {args.pages}")
    pages = load_pages(args.pages, args.real_only)
    chosen = {n: fn for n, fn in EXTRACTORS.items() if not args.only or any(n.startswith(p) for p in args.only.split(","))}
    outputs = {n: [fn(p["html"]) for p in pages] for n, fn in chosen.items()}  # warm-up pass, also the scored one
    # Passes interleave the extractors so that load from other processes hits them alike.
    best = dict.fromkeys(chosen, float("inf"))
    for _ in range(args.repeat):
        for name, fn in chosen.items():
            t0 = time.perf_counter()
            for p in pages:
                fn(p["html"])
            best[name] = min(best[name], time.perf_counter() - t0)
    rows = {}
    for name in chosen:
        scores = [prf(o, p["gold"]) for o, p in zip(outputs[name], pages)]
        rows[name] = {
            "P": statistics.mean(s[0] for s in scores), "R": statistics.mean(s[1] for s in scores),
            "F1": statistics.mean(s[2] for s in scores), "docs_s": len(pages) / best[name], "per_page": scores,
        }
    ref = rows.get("trafilatura (favor_precision)")
    print(f"{len(pages)} pages from {args.pages} ({'real articles only' if args.real_only else 'all'}), 1 process, "
          f"fastest of {args.repeat} passes, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'extractor':32} {'precision':>9} {'recall':>7} {'F1':>7} {'docs/s/core':>12} {'× trafilatura':>14}")
    for name, r in rows.items():
        ratio = f"{r['docs_s'] / ref['docs_s']:.1f}×" if ref else "-"
        print(f"{name:32} {r['P']:9.3f} {r['R']:7.3f} {r['F1']:7.3f} {r['docs_s']:12.0f} {ratio:>14}")
    if not args.only:
        with tempfile.TemporaryDirectory() as tmp:
            for p in pages:
                (Path(tmp) / f"{p['name']}.html").write_bytes(p["raw"])
            print_stage_speeds("these pages as .html files", [tmp], args.repeat)
    if args.crawl:
        print_stage_speeds(f"the archives in {args.crawl}", [str(args.crawl)], args.repeat)
    if args.worst and "curate" in rows:
        worst = sorted(zip(rows["curate"]["per_page"], pages), key=lambda x: x[0][2])[: args.worst]
        for (p, r, f), page in worst:
            other = {n: rows[n]["per_page"][pages.index(page)][2] for n in rows if n != "curate"}
            print(f"  {page['name']:40} P={p:.2f} R={r:.2f} F1={f:.2f}  " + " ".join(f"{n[:5]}={v:.2f}" for n, v in other.items()))


if __name__ == "__main__":
    main()
