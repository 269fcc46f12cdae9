"""Benchmark the dedup stage side by side with datatrove's MinHash, in one run on the same documents.

    python scripts/bench_dedup.py                 # speed + accuracy (a few minutes)
    python scripts/bench_dedup.py --scale 1000000 # + the 1M-document scale run (peak memory, time)

1. Signature speed, one process: curate's MinHasher (+ band keys) vs datatrove's
   MinhashDedupSignature shingling + signature (its regex-free whitespace split of simplified
   text, and its default spacy English tokenizer on a subset), docs/s per core and ratios.
2. Accuracy by edit level (0, 0.5, 1, 2, 10% of words replaced): the full dedup stage with
   the curate and fineweb presets, precision/recall per level, false positives among distinct
   documents; and datatrove's LSH on the same pairs (share a band with its 14x8 signature).
   Synthetic Zipf-vocabulary documents plus real web text from ../shared/data when present.
3. Scale: N synthetic documents (10% exact, 10% 2%-edited copies) in 16 shards through
   `curate dedup -w 2`; wall time and peak memory (sum over the process tree, sampled).
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import Pool, Process
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.inputs import resolve_inputs  # noqa: E402
from curate.runner import run_stage  # noqa: E402
from curate.shards import SHARD_SUFFIXES  # noqa: E402
from curate.stages.dedup import DedupStage  # noqa: E402
from curate.stages.dedup.cluster import ClusterSettings, cluster  # noqa: E402
from curate.stages.dedup.lsh import PRESETS, band_keys  # noqa: E402
from curate.stages.dedup.minhash import MinHasher  # noqa: E402
from curate.stages.dedup.sign import band_column, sig_schema  # noqa: E402
from curate.stages.dedup.synthetic import DocMaker  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
LEVELS = (0.0, 0.005, 0.01, 0.02, 0.10)


# ---------------------------------------------------------------- documents


def real_texts() -> list[str]:
    """Real web text: readability test pages' expected text and CCNet/Dolma documents."""
    texts = []
    if not SHARED.exists():
        return texts
    from resiliparse.extract.html2text import extract_plain_text

    for page in sorted((SHARED / "readability_testpages" / "pages").glob("*/expected.html.gz")):
        texts.append(extract_plain_text(gzip.decompress(page.read_bytes()).decode("utf-8", "replace")))
    for f in sorted((SHARED / "warc").glob("dolma_*.jsonl.gz")):
        texts += [orjson.loads(line)["text"] for line in gzip.decompress(f.read_bytes()).splitlines() if line.strip()]
    return _distinct([t for t in texts if len(t.split()) >= 50])


def _distinct(texts: list[str], max_jaccard: float = 0.3) -> list[str]:
    """Drop texts whose 5-gram shingles overlap an earlier one (the test pages include near-copies),
    so the 'distinct documents' really are distinct (exact Jaccard, brute force)."""
    from curate.stages.dedup.normalize import shingle_words

    kept, sets = [], []
    for t in texts:
        w = shingle_words(t)
        s = {tuple(w[i:i + 5]) for i in range(len(w) - 4)}
        if all(len(s & o) / len(s | o) < max_jaccard for o in sets):
            kept.append(t)
            sets.append(s)
    return kept


# ---------------------------------------------------------------- 1. speed


def datatrove_signer(tokenizer: str):
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SplitTokenizer(WordTokenizer):  # simplify_text already lowercased and removed punctuation
        def word_tokenize(self, text):
            return text.split()

        def sent_tokenize(self, text):
            return [text]

        def span_tokenize(self, text):
            return [(0, len(text))]

    cfg = MinhashConfig(hash_config=HashConfig(precision=64), num_buckets=14, hashes_per_bucket=8, n_grams=5)
    step = MinhashDedupSignature(tempfile.mkdtemp(prefix="dt-sig-"), config=cfg,
                                 language=SplitTokenizer() if tokenizer == "regex" else "en")
    return lambda text: step.get_signature(step.get_shingles(text))


def bench_speed(docs: list[str], spacy_docs: int) -> list[tuple]:
    rows = []

    def ours(preset):
        p = PRESETS[preset]
        h = MinHasher(p.ngram, p.hashes, p.seed)
        t = time.perf_counter()
        for i in range(0, len(docs), 1024):
            sig, _ = h.signatures(docs[i:i + 1024])
            band_keys(sig, p.bands, p.rows)
        return len(docs) / (time.perf_counter() - t)

    def theirs(tokenizer, subset):
        sign = datatrove_signer(tokenizer)
        sign(subset[0])  # load the tokenizer outside the timing
        t = time.perf_counter()
        for d in subset:
            sign(d)
        return len(subset) / (time.perf_counter() - t)

    rows.append(("curate, preset curate (140 hashes, 20x7)", ours("curate"), len(docs)))
    rows.append(("curate, preset fineweb (112 hashes, 14x8)", ours("fineweb"), len(docs)))
    rows.append(("datatrove MinhashDedupSignature, whitespace split (112)", theirs("regex", docs), len(docs)))
    try:
        rows.append(("datatrove MinhashDedupSignature, spacy en default (112)", theirs("spacy", docs[:spacy_docs]), spacy_docs))
    except Exception as e:  # noqa: BLE001 - report, do not stop the benchmark
        print(f"datatrove spacy tokenizer failed: {e!r}", file=sys.stderr)
    return rows


# ---------------------------------------------------------------- 2. accuracy


def make_families(base: list[str], maker: DocMaker, copies_per_level: int, tag: str):
    docs = [{"id": f"{tag}-base-{i:05d}", "text": t} for i, t in enumerate(base)]
    family = {d["id"]: i for i, d in enumerate(docs)}
    level_of = {}
    for level in LEVELS:
        for j in maker.rng.choice(len(base), size=min(copies_per_level, len(base)), replace=False):
            cid = f"{tag}-copy-{level}-{j:05d}"
            docs.append({"id": cid, "text": maker.edit(base[j], level)})
            family[cid], level_of[cid] = int(j), level
    return docs, family, level_of


# the stage settings compared: curate's default, its LSH without the similarity check, FineWeb's
STAGE_SETTINGS = {
    "curate default (20x7, check >= 0.65)": {},
    "curate 20x7, no check": {"min_similarity": 0},
    "fineweb preset 14x8, no check (as FineWeb)": {"preset": "fineweb", "min_similarity": 0},
}


def stage_rejects(docs, options: dict, tmp: Path) -> dict[str, str]:
    """Run the dedup stage over docs; {rejected id: duplicate_of}."""
    src = tmp / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    out = tmp / "out"
    run_stage(DedupStage(**options), resolve_inputs([str(src)], SHARD_SUFFIXES), out, workers=1, resume=False)
    rejected = {}
    for p in (out / "rejected").glob("*.parquet"):
        rejected.update({r["id"]: r["duplicate_of"] for r in pq.read_table(p, columns=["id", "duplicate_of"]).to_pylist()})
    return rejected


def siblings(maker: DocMaker, pairs: int) -> list[dict]:
    """Distinct documents that share their first two thirds (templated pages): Jaccard ~0.5."""
    docs = []
    for i in range(pairs):
        words = maker.document(300, 600).split(" ")
        cut = len(words) * 2 // 3
        other = maker.document(len(words) - cut, len(words) - cut).split(" ")[: len(words) - cut]
        docs += [{"id": f"sib-{i:05d}-a", "text": " ".join(words)}, {"id": f"sib-{i:05d}-b", "text": " ".join(words[:cut] + other)}]
    return docs


def datatrove_accuracy(docs, family, level_of):
    """datatrove's 14x8 LSH on the same documents: a copy is found if it shares a band with a family member."""
    sign = datatrove_signer("regex")
    buckets: dict[tuple, list[str]] = {}
    for d in docs:
        for b, band in enumerate(sign(d["text"])):
            buckets.setdefault((b, tuple(band)), []).append(d["id"])
    # emulate datatrove's clustering: union of every bucket; survivor = lowest id (as curate)
    parent = {d["id"]: d["id"] for d in docs}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in buckets.values():
        for other in ids[1:]:
            a, b = find(ids[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    rejected = {i: find(i) for i in parent if find(i) != i}
    return _score(rejected, family, level_of)


def _score(rejected: dict[str, str], family, level_of):
    """Per edit level: recall (copies removed), precision (removals pointing into the right family)."""
    res = {}
    for level in LEVELS:
        ids = [c for c, lv in level_of.items() if lv == level]
        caught = [c for c in ids if c in rejected]
        right = [c for c in caught if family[rejected[c]] == family[c]]
        res[level] = (len(right) / len(ids) if ids else 0.0, len(right) / len(caught) if caught else 1.0, len(ids))
    bases = [i for i in family if "-base-" in i or not level_of]
    res["fp"] = (sum(i in rejected for i in bases), len(bases))
    return res


# ---------------------------------------------------------------- 3. scale


def _gen_shard(job):
    path, n, seed = job
    maker = DocMaker(seed=seed)
    cctx = zstandard.ZstdCompressor(level=1)
    lines, recent = [], []
    for i in range(n):
        r = maker.rng.random()
        if r < 0.1 and recent:  # exact copy of a recent document of this shard
            text = recent[int(maker.rng.integers(len(recent)))]
        elif r < 0.2 and recent:
            text = maker.edit(recent[int(maker.rng.integers(len(recent)))], 0.02)
        else:
            text = maker.document(100, 800)
            recent = (recent + [text])[-1000:]
        lines.append(orjson.dumps({"id": f"s{seed:03d}-{i:07d}", "text": text, "url": f"https://example.com/{seed}/{i}"}))
    path.write_bytes(cctx.compress(b"\n".join(lines) + b"\n"))
    return n


class TreeMemory(threading.Thread):
    """Samples the summed RSS of a process and its descendants (Linux /proc) every 0.2 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, False

    def run(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while not self.stop:
            children: dict[int, list[int]] = {}
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        stat = Path(f"/proc/{d}/stat").read_text()
                        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(d))
                    except OSError:
                        pass
            todo, total = [self.pid], 0
            while todo:
                p = todo.pop()
                try:
                    total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
                except OSError:
                    pass
                todo += children.get(p, [])
            self.peak = max(self.peak, total)
            time.sleep(0.2)


def bench_scale(n: int, folder: Path, shards: int = 16) -> dict:
    inp = folder / "in"
    inp.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    per = n // shards
    with Pool(2) as pool:
        pool.map(_gen_shard, [(inp / f"part-{s:03d}.jsonl.zst", per, s) for s in range(shards)])
    gen_s = time.perf_counter() - t
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", "dedup", str(inp), "-o", str(folder / "out"), "-w", "2",
                             "--memory-limit", "6GB", "--fresh"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mem = TreeMemory(proc.pid)
    mem.start()
    out, err = proc.communicate()
    mem.stop = True
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"scale run failed: {err.decode()[-2000:]}")
    kept = sum(pq.ParquetFile(p).metadata.num_rows for p in (folder / "out").glob("*.parquet"))
    rejected = sum(pq.ParquetFile(p).metadata.num_rows for p in (folder / "out" / "rejected").glob("*.parquet"))
    work = folder / "out" / "_work"
    return {"docs": per * shards, "gen_s": gen_s, "wall_s": wall, "peak_rss": mem.peak, "kept": kept, "rejected": rejected,
            "work_bytes": sum(p.stat().st_size for p in work.rglob("*") if p.is_file())}


def _fake_keys(job):
    """One shard of per-document keys as sign.py writes them: 10% exact copies and 10% near copies
    (sharing 2 of the bands and the whole sketch) of earlier documents of the shard, the rest random."""
    path, shard_no, n, bands, hashes = job
    rng = np.random.default_rng(shard_no)
    cols = {"shard_no": np.full(n, shard_no, dtype=np.int32), "row": np.arange(n, dtype=np.int64),
            "id": [f"s{shard_no:03d}-{i:08d}" for i in range(n)], "source": ["web"] * n}
    kind = rng.random(n)
    src = (rng.random(n) * np.arange(n)).astype(np.int64)  # an earlier row
    exact = rng.integers(0, 2**63, n, dtype=np.uint64)
    keys = rng.integers(0, 2**63, (n, bands), dtype=np.uint64)
    sketch = rng.integers(0, 256, (n, hashes), dtype=np.uint8)
    for i in np.flatnonzero(kind < 0.2):  # in row order, so copies of copies copy the copied values
        if kind[i] < 0.1:
            exact[i], keys[i] = exact[src[i]], keys[src[i]]
        else:
            keys[i, :2] = keys[src[i], :2]
        sketch[i] = sketch[src[i]]
    cols["exact_hi"] = exact
    cols["exact_lo"] = exact ^ np.uint64(12345)
    cols["url"] = pa.nulls(n, pa.uint64())
    for b in range(bands):
        cols[band_column(b)] = np.ascontiguousarray(keys[:, b])
    cols["sketch"] = pa.FixedSizeBinaryArray.from_buffers(pa.binary(hashes), n, [None, pa.py_buffer(sketch.tobytes())])
    pq.write_table(pa.table(cols, schema=sig_schema(bands, hashes)), path, compression="zstd")


def _cluster_only(folder: str, memory_limit: str):
    files = sorted(Path(folder, "keys").glob("*.parquet"))
    p = PRESETS["curate"]
    settings = ClusterSettings("both", "global", False, [], p.bands, memory_limit, 2, p.hashes, 0.65)
    print(cluster(files, None, "bench", settings, Path(folder)), file=sys.stderr)


def bench_cluster(n: int, folder: Path, memory_limit: str, shards: int = 16) -> dict:
    """The clustering step alone (DuckDB + union-find) over n documents' keys, in a child process."""
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    with Pool(2) as pool:
        p = PRESETS["curate"]
        pool.map(_fake_keys, [(folder / "keys" / f"{s:06d}.parquet", s, n // shards, p.bands, p.hashes) for s in range(shards)])
    t = time.perf_counter()
    proc = Process(target=_cluster_only, args=(str(folder), memory_limit))
    proc.start()
    mem = TreeMemory(proc.pid)
    mem.start()
    proc.join()
    mem.stop = True
    if proc.exitcode:
        raise SystemExit("clustering failed")
    return {"docs": n // shards * shards, "wall_s": time.perf_counter() - t, "peak_rss": mem.peak}


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=3000, help="documents for the speed test")
    ap.add_argument("--spacy-docs", type=int, default=300, help="subset for datatrove's (slow) spacy tokenizer")
    ap.add_argument("--accuracy-docs", type=int, default=2000, help="distinct synthetic documents for accuracy")
    ap.add_argument("--scale", type=int, default=0, help="documents for the scale run (0 = skip)")
    ap.add_argument("--scale-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench-dedup-scale")
    ap.add_argument("--cluster-only", type=int, default=0, help="documents for the clustering-alone run (0 = skip)")
    ap.add_argument("--skip-accuracy", action="store_true", help="only the speed table (and the scale runs)")
    args = ap.parse_args()
    os.environ.setdefault("CURATE_LOG_LEVEL", "WARNING")

    maker = DocMaker(seed=1)
    real = real_texts()
    synth = [maker.document(300, 900) for _ in range(args.docs)]
    speed_docs = (real + synth)[: args.docs] if real else synth
    avg = sum(map(len, speed_docs)) / len(speed_docs)
    print(f"# dedup benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, one process\n")
    print(f"## 1. MinHash signature speed ({len(speed_docs)} docs, {len(real)} real + synthetic, avg {avg:,.0f} chars)\n")
    rows = bench_speed(speed_docs, args.spacy_docs)
    ref = next(r[1] for r in rows if "whitespace" in r[0])
    print("| implementation | docs | docs/s per core | vs datatrove whitespace |\n|---|---:|---:|---:|")
    for name, rate, n in rows:
        print(f"| {name} | {n:,} | {rate:,.0f} | {rate / ref:.2f}x |")

    if not args.skip_accuracy:
        bench_accuracy(maker, real, args.accuracy_docs)
    if args.scale:
        print(f"## 3. Scale: {args.scale:,} synthetic documents, `curate dedup -w 2 --memory-limit 6GB`\n")
        r = bench_scale(args.scale, args.scale_dir)
        print("| docs | kept | rejected | wall s | docs/s (2 workers) | peak RSS, process tree | work folder |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {r['docs']:,} | {r['kept']:,} | {r['rejected']:,} | {r['wall_s']:,.0f} | {r['docs'] / r['wall_s']:,.0f} "
              f"| {r['peak_rss'] / 2**30:.2f} GiB | {r['work_bytes'] / 2**30:.2f} GiB |")
        print(f"\n(generating the input took {r['gen_s']:,.0f} s, not counted)\n")
    if args.cluster_only:
        print(f"## 4. Clustering alone (DuckDB + union-find, 2 threads, memory_limit 4GB) over {args.cluster_only:,} "
              "documents' keys (20 bands + sketches, similarity check on; 10% exact, 10% near copies)\n")
        r = bench_cluster(args.cluster_only, args.scale_dir / "cluster-only", "4GB")
        print("| docs | wall s | peak RSS |\n|---:|---:|---:|")
        print(f"| {r['docs']:,} | {r['wall_s']:,.0f} | {r['peak_rss'] / 2**30:.2f} GiB |")


def bench_accuracy(maker: DocMaker, real: list[str], accuracy_docs: int) -> None:
    print("\n## 2. Accuracy by edit level (fraction of words replaced)\n")
    sets = [("synthetic", [maker.document(100, 900) for _ in range(accuracy_docs)], 200)]
    if real:
        sets.append(("real web text", real, len(real)))
    for name, base, per_level in sets:
        docs, family, level_of = make_families(base, maker, per_level, name[:4])
        print(f"### {name}: {len(base)} distinct documents, {per_level} copies per level\n")
        print("| method | " + " | ".join(f"{lv:.1%} R / P" for lv in LEVELS) + " | distinct docs removed |")
        print("|---|" + "---:|" * (len(LEVELS) + 1))
        results = []
        for label, options in STAGE_SETTINGS.items():
            with tempfile.TemporaryDirectory() as tmp:
                results.append((label, _score(stage_rejects(docs, options, Path(tmp)), family, level_of)))
        results.append(("datatrove 14x8 LSH (same docs)", datatrove_accuracy(docs, family, level_of)))
        for label, res in results:
            cells = [f"{res[lv][0]:.1%} / {res[lv][1]:.1%}" for lv in LEVELS]
            print(f"| {label} | " + " | ".join(cells) + f" | {res['fp'][0]} of {res['fp'][1]} |")
        print()
    pairs = 1000
    docs = siblings(maker, pairs)
    print(f"### templated siblings: {pairs} pairs of distinct documents sharing two thirds of their words (Jaccard ~0.5)\n")
    print("| method | siblings removed (false positives) |\n|---|---:|")
    for label, options in STAGE_SETTINGS.items():
        with tempfile.TemporaryDirectory() as tmp:
            print(f"| {label} | {len(stage_rejects(docs, options, Path(tmp)))} of {pairs} |")
    family = {d["id"]: i for i, d in enumerate(docs)}
    print(f"| datatrove 14x8 LSH (same docs) | {datatrove_accuracy(docs, family, {})['fp'][0]} of {pairs} |\n")


if __name__ == "__main__":
    main()
