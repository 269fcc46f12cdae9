"""Benchmark `curate llm run` (figures in docs/llm.md).

1. Throughput against a local stub server that answers instantly (tests/llm_stub_server.py, its
   own process), side by side in one run with two bare httpx loops doing the same requests
   without files, resume or retries: one AsyncClient per worker, and one shared AsyncClient pool
   (the obvious way). curate sends through one httpx transport per worker instead. Wall requests/s depend on how busy the
   machine is, so the client's CPU time per request is reported too.
2. Kill and resume: `curate llm run` as a subprocess, SIGKILLed mid-run, then rerun; checks that
   every request is answered exactly once and that no request answered on disk was sent again
   (the stub counts what it receives).
3. Against `curate llm serve` (the embedded SmolLM2-135M): requests/s and tokens/s for a short
   schema-constrained answer, with the thread count.

    .venv/bin/python scripts/bench_llm_client.py [--requests 3000] [--concurrency 64] [--serve-requests 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.llm.batch import RequestWriter, json_schema_format, make_request, read_responses  # noqa: E402
from curate.llm.client import run_requests  # noqa: E402


def start_stub() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "llm_stub_server.py")], stdout=subprocess.PIPE,
                            text=True)
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def write(folder: Path, texts: list[str], **params) -> list[str]:
    ids = []
    with RequestWriter(folder) as w:
        for i, t in enumerate(texts):
            cid = f"r{i:06d}"
            w.write(make_request(cid, [{"role": "user", "content": t}], "m", **params))
            ids.append(cid)
    return ids


async def bare_httpx(url: str, texts: list[str], concurrency: int, shared: bool) -> None:
    bodies = [orjson.dumps({"model": "m", "messages": [{"role": "user", "content": t}], "max_tokens": 4})
              for t in texts]
    queue: asyncio.Queue = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    pool = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) if shared else None

    async def worker():
        client = pool or httpx.AsyncClient(limits=httpx.Limits(max_connections=1))
        while not queue.empty():
            r = await client.post(url + "/chat/completions", content=queue.get_nowait(),
                                  headers={"Content-Type": "application/json"})
            orjson.loads(r.content)
        if pool is None:
            await client.aclose()

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    if pool:
        await pool.aclose()


def timed(fn) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def bench_throughput(tmp: Path, n: int, concurrency: int) -> None:
    proc, url = start_stub()
    try:
        texts = [f"instant {i}" for i in range(n)]
        write(tmp / "req", texts, max_tokens=4)
        rows = []
        for name, fn in [
            ("curate llm run", lambda: run_requests([tmp / "req"], tmp / "out.jsonl", url, concurrency=concurrency)),
            ("bare httpx, a client per worker", lambda: asyncio.run(bare_httpx(url, texts, concurrency, False))),
            ("bare httpx, one shared pool", lambda: asyncio.run(bare_httpx(url, texts, concurrency, True))),
        ]:
            wall, cpu = timed(fn)
            rows.append((name, n / wall, cpu / n * 1000))
        assert len(read_responses(tmp / "out.jsonl")) == n
    finally:
        proc.kill()
    print(f"\n## Throughput: {n:,} requests, concurrency {concurrency}, stub answering instantly "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n")
    print("| client | requests/s (wall) | client CPU ms/request | requests per client CPU-second | vs curate (req/s) |")
    print("|---|---|---|---|---|")
    for name, rps, cpu_ms in rows:
        print(f"| {name} | {rps:,.0f} | {cpu_ms:.2f} | {1000 / cpu_ms:,.0f} | {rps / rows[0][1]:.2f}x |")


def bench_kill_resume(tmp: Path, n: int, concurrency: int) -> None:
    proc, url = start_stub()
    try:
        ids = write(tmp / "kreq", [f"delay:0.01 k{i}" for i in range(n)], max_tokens=4)
        out = tmp / "kout.jsonl"
        cmd = [sys.executable, "-m", "curate.cli", "llm", "run", str(tmp / "kreq"), "-o", str(out),
               "--endpoint", url, "--concurrency", str(concurrency)]
        run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not out.exists() or out.stat().st_size < 200 * n // 3:  # ~a third answered (~200 bytes a line)
            time.sleep(0.01)
        run.send_signal(signal.SIGKILL)
        run.wait()
        on_disk = {orjson.loads(x)["custom_id"] for x in out.read_bytes().splitlines(keepends=True) if x.endswith(b"\n")}
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        attempts = httpx.get(url.removesuffix("/v1") + "/stats").json()["attempts"]
    finally:
        proc.kill()
    final = Counter(orjson.loads(x)["custom_id"] for x in out.read_bytes().splitlines())
    by_text = {f"delay:0.01 k{i}": cid for i, cid in enumerate(ids)}
    resent = [t for t, k in attempts.items() if k > 1]
    resent_answered = [t for t in resent if by_text[t] in on_disk]
    lost = set(ids) - set(final)
    dup = [c for c, k in final.items() if k > 1]
    print(f"\n## Kill and resume: {n:,} requests, SIGKILL after {len(on_disk):,} answers on disk, then rerun\n")
    print(f"- answers in the output: {sum(final.values()):,} for {len(final):,} requests; lost {len(lost)}, "
          f"duplicated {len(dup)}")
    print(f"- sent twice: {len(resent)} (in flight at the kill, no answer on disk); sent twice although answered "
          f"on disk: {len(resent_answered)}")
    assert not lost and not dup and not resent_answered


def bench_serve(tmp: Path, n: int, threads: int) -> None:
    server = subprocess.Popen([sys.executable, "-m", "curate.cli", "llm", "serve", "--port", "0",
                               "--threads", str(threads)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "serving" not in line:
            line = server.stderr.readline()
            if not line and server.poll() is not None:
                raise SystemExit("curate llm serve did not start")
        url = re.search(r"at (\S+/v1)", line).group(1)
        load = re.search(r"loaded in ([\d.]+) s", line).group(1)
        schema = {"type": "object", "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 5}},
                  "required": ["score"], "additionalProperties": False}
        topics = ["photosynthesis", "the French revolution", "prime numbers", "a cheap watch sale", "volcanoes",
                  "celebrity gossip", "how vaccines work", "a casino bonus", "the water cycle", "sorting algorithms"]
        texts = [f"Rate 0-5 how educational this is. Text: a short page about {topics[i % len(topics)]}." for i in range(n)]
        ids = write(tmp / "sreq", texts, max_tokens=16, temperature=0.0,
                    response_format=json_schema_format("score", schema))
        out = tmp / "sout.jsonl"
        wall, _ = timed(lambda: run_requests([tmp / "sreq"], out, url, concurrency=1))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    answers = read_responses(out, known_ids=ids)
    scores = [answers[c].json()["score"] for c in ids]
    gen = sum(a.usage.get("completion_tokens", 0) for a in answers.values())
    prompt = sum(a.usage.get("prompt_tokens", 0) for a in answers.values())
    timings = [a.raw["response"]["body"].get("timings") or {} for a in answers.values()]
    pred_ms = sum(t.get("predicted_ms", 0) for t in timings)
    prompt_ms = sum(t.get("prompt_ms", 0) for t in timings)
    print(f"\n## curate llm serve (SmolLM2-135M-Instruct Q4_1, {threads} threads, loaded in {load} s; "
          f"load average {os.getloadavg()[0]:.1f})\n")
    print(f"- {n} requests, concurrency 1, a {{\"score\": 0..5}} JSON schema, max 16 tokens: "
          f"{n / wall:.2f} requests/s, {gen / wall:.1f} generated tokens/s overall")
    if pred_ms:
        print(f"- server timings: generation {sum(t.get('predicted_n', 0) for t in timings) / pred_ms * 1000:.1f} "
              f"tokens/s, prompt {sum(t.get('prompt_n', 0) for t in timings) / prompt_ms * 1000:.1f} tokens/s "
              f"({prompt} prompt tokens in all, some cached)")
    print(f"- every answer parsed as JSON with an integer score in 0..5: {all(0 <= s <= 5 for s in scores)}; "
          f"scores {scores}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=3000, help="0 skips the throughput part")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--kill-requests", type=int, default=2000, help="0 skips the kill-and-resume part")
    ap.add_argument("--serve-requests", type=int, default=6, help="0 skips the embedded-model part")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    try:
        if args.requests:
            bench_throughput(tmp, args.requests, args.concurrency)
        if args.kill_requests:
            bench_kill_resume(tmp, args.kill_requests, args.concurrency)
        if args.serve_requests:
            bench_serve(tmp, args.serve_requests, args.threads)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
