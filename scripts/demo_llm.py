"""`make demo-llm`: the whole rating loop with the embedded local model, on a few dozen sample pages.

    annotate export -> llm serve -> llm run -> annotate import -> train-rater -> rate

then prints how well the local model's labels (and the rater distilled from them) agree with the
levels the sample generator built each page with (curate/sample/quality.py). The embedded model
(SmolLM2-135M) is plumbing grade: expect weak agreement; the point is that every step runs, offline,
with the real commands, which are printed as they run.

Usage: python scripts/demo_llm.py [--sample data/sample] [--docs 36] [--out runs/demo-llm]
"""

from __future__ import annotations

import argparse
import json
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
CURATE = [sys.executable, "-m", "curate.cli"]


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    print(f"\n$ curate {' '.join(shlex.quote(a) for a in args)}", flush=True)
    proc = subprocess.run([*CURATE, *args], cwd=ROOT)
    if check and proc.returncode not in (0,):
        sys.exit(f"demo-llm: `curate {args[0]}` exited {proc.returncode}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path) -> subprocess.Popen:
    print(f"\n$ curate llm serve --port {port} &", flush=True)
    server = subprocess.Popen([*CURATE, "llm", "serve", "--port", str(port)], cwd=ROOT, stderr=open(log, "wb"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"demo-llm: the model server stopped: {log.read_text()[-500:]}")
        if b"serving" in log.read_bytes():
            return server
        time.sleep(0.5)
    server.terminate()
    sys.exit("demo-llm: the model server did not start within 120 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=Path, default=ROOT / "data" / "sample")
    ap.add_argument("--docs", type=int, default=36)
    ap.add_argument("--doc-tokens", type=int, default=200, help="cut pages to about this many tokens (speed)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "demo-llm")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    # The sample pages' main text, with the level and kind the generator gave them.
    labels = [orjson.loads(x) for x in (args.sample / "labels.jsonl").read_bytes().splitlines()]
    pages = [{"id": r["id"], "text": r["gold_text"], "source": "sample", "kind": r["kind"]}
             for r in labels if r.get("gold_text") and r["kind"] not in ("huge", "exact_duplicate", "near_duplicate")]
    level = {r["id"]: r["edu_level"] for r in labels}
    docs = out / "pages.jsonl"
    docs.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in pages))
    ann = out / "ann"

    sh("annotate", "export", str(docs), "-o", str(ann), "--task", "edu-json", "--sample", str(args.docs), "--by", "kind",
       "--doc-tokens", str(args.doc_tokens))
    port = free_port()
    server = start_server(port, out / "serve.log")
    try:
        t0 = time.perf_counter()
        sh("llm", "run", *map(str, sorted(ann.glob("requests-*.jsonl"))), "-o", str(ann / "responses.jsonl"),
           "--endpoint", f"http://127.0.0.1:{port}/v1", "--concurrency", "1", check=False)
        seconds = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
    labels_file = out / "labels.parquet"
    sh("annotate", "import", str(ann / "responses.jsonl"), "-o", str(labels_file))
    rater = ROOT / "models" / "demo-llm-rater-edu.bin"
    trained = sh("train-rater", str(labels_file), "--criterion", "edu", "-o", str(rater), "--name", "demo-llm-rater-edu",
                 "--demo", "--epoch", "25", "--lr", "0.5", "--bucket", "20000", "--valid-fraction", "0.2", check=False)
    rows = pq.read_table(labels_file).to_pylist()
    got = [(r["edu"], level[r["id"]]) for r in rows if r["edu"] is not None]
    print("\n== agreement of the local model's labels with the generator's levels ==")
    print(f"{len(rows)} pages annotated in {seconds:.0f} s; {len(got)} answers parsed, {len(rows) - len(got)} failed")
    if got:
        exact = sum(a == b for a, b in got) / len(got)
        near = sum(abs(a - b) <= 1 for a, b in got) / len(got)
        rho = spearmanr(*zip(*got)).statistic if len({a for a, _ in got}) > 1 else float("nan")
        print(f"exact agreement {exact:.1%}, within one level {near:.1%}, Spearman {rho:.3f}")
    if trained.returncode == 0:
        sh("rate", str(docs), "-o", str(out / "rated"), "--raters", "demo-llm-rater-edu", "--buckets", "5",
           "--fresh")
        rated = pq.read_table(out / "rated" / "pages.parquet").to_pylist()
        rho = spearmanr([d["rating_edu"] for d in rated], [level[d["id"]] for d in rated]).statistic
        print(f"\nrater distilled from those labels, on all {len(rated)} pages: Spearman with the generator's levels "
              f"{rho:.3f}")
    else:
        print("the labels were too uniform to train a rater (the embedded model is plumbing grade)")
    print(json.dumps({"answers": len(rows), "parsed": len(got)}))


if __name__ == "__main__":
    main()
