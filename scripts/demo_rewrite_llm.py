"""The rewrite queue end to end with the embedded local model, on a handful of sample pages.

    rewrite-queue export -> llm serve -> llm run -> rewrite-queue ingest

The embedded model (SmolLM2-135M) is plumbing grade: it does not follow free-text format
instructions (with the `wikipedia` style it echoed the document block or left out the answer
prefix, and ingest rejected every answer), but it does follow a JSON schema. So the demo uses the
structured-output style `wikipedia_json`: each request carries a response_format schema with one
field, `rewritten_text`, and ingest takes that field. Its answers are well-formed but it does not
really rewrite (a title, a marker word, a sentence about the task repeated): the point is that
every step runs offline with the real commands, which are printed as they run.

To keep the run to a few minutes on 2 threads (the model writes 6-7 tokens/s), the inputs are the
opening paragraphs (about 400 characters) of the shortest article pages of the sample crawl.

Usage: python scripts/demo_rewrite_llm.py [--sample data/sample] [--docs 3] [--out runs/demo-rewrite-llm]
"""

from __future__ import annotations

import argparse
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
CURATE = [sys.executable, "-m", "curate.cli"]

# One short request per page, and an output limit that lets the model finish copying its input.
POLICY = """\
name: demo-rewrite-llm
styles: [wikipedia_json]
budget: {{max_docs: {docs}}}
model: smollm2-135m
params: {{max_tokens: 256, temperature: 0.2}}
"""
HEAD_CHARS = 400  # about 100 tokens of each page: whole paragraphs up to this length


def opening(text: str, limit: int = HEAD_CHARS) -> str:
    """The page's first paragraphs, as many as fit in `limit` characters (at least one)."""
    kept: list[str] = []
    for para in text.split("\n"):
        if kept and sum(len(p) + 1 for p in kept) + len(para) > limit:
            break
        kept.append(para)
    return "\n".join(kept)


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    print(f"\n$ curate {' '.join(shlex.quote(a) for a in args)}", flush=True)
    proc = subprocess.run([*CURATE, *args], cwd=ROOT)
    if check and proc.returncode != 0:
        sys.exit(f"demo-rewrite-llm: `curate {args[0]}` exited {proc.returncode}")
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
            sys.exit(f"demo-rewrite-llm: the model server stopped: {log.read_text()[-500:]}")
        if b"serving" in log.read_bytes():
            return server
        time.sleep(0.5)
    server.terminate()
    sys.exit("demo-rewrite-llm: the model server did not start within 120 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=Path, default=ROOT / "data" / "sample")
    ap.add_argument("--docs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "demo-rewrite-llm")
    args = ap.parse_args()
    out = args.out
    if out.exists():
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True)

    # The shortest article pages of the sample crawl, cut to their opening paragraphs.
    labels = [orjson.loads(x) for x in (args.sample / "labels.jsonl").read_bytes().splitlines()]
    articles = sorted((r for r in labels if r.get("gold_text") and r["kind"] == "article"),
                      key=lambda r: (len(r["gold_text"]), r["id"]))
    pages = [{"id": r["id"], "text": opening(r["gold_text"]), "source": "sample", "url": r.get("url")}
             for r in articles[:args.docs]]
    docs = out / "pages.jsonl"
    docs.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in pages))
    (out / "policy.yaml").write_text(POLICY.format(docs=args.docs))
    queue = out / "queue"

    sh("rewrite-queue", "export", str(docs), "-o", str(queue), "--policy", str(out / "policy.yaml"))
    port = free_port()
    server = start_server(port, out / "serve.log")
    try:
        sh("llm", "run", str(queue / "exports" / "0001"), "-o", str(out / "answers.jsonl"),
           "--endpoint", f"http://127.0.0.1:{port}/v1", "--concurrency", "1", "--timeout", "900", check=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
    sh("rewrite-queue", "ingest", str(out / "answers.jsonl"), "--queue", str(queue), "-o", str(out / "rewrites"))

    kept = [r for p in (out / "rewrites").glob("*.parquet") for r in pq.read_table(p).to_pylist()]
    rejected = [r for p in (out / "rewrites" / "rejected").glob("*.parquet") for r in pq.read_table(p).to_pylist()]
    originals = {p["id"]: p["text"] for p in pages}
    print(f"\nrewrites kept: {len(kept)}; answers rejected: {len(rejected)}")
    for r in kept[:2]:
        print(f"\n--- {r['parent_id']} (original, first 300 chars)\n{originals[r['parent_id']][:300]}"
              f"\n--- rewrite:{r['rewrite_style']} by {r['model']}\n{r['text'][:300]}")
    for r in rejected[:3]:
        print(f"\n--- rejected {r['parent_id']}: {r['reject_reason']} ({r.get('reject_detail')})\n{(r['text'] or '')[:200]}")


if __name__ == "__main__":
    main()
