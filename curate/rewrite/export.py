"""`curate rewrite-queue export`: choose documents by policy, chunk them, write request files.

Two passes: DuckDB finds the band's percentile cut values and eligible counts over all inputs
(scan.py); then every document is read once, decided on (select.py), cut into chunks
(chunking.py) and written as one request per chunk and style. Request ids are content hashes
(curate.llm.batch.request_id over the document's id and text hash, chunk, style, prompt
version, model and parameters), so exporting the same input again writes nothing new, and
documents queued by an earlier export are skipped unless `requeue` is asked.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curate.inputs import resolve_inputs
from curate.llm.batch import MAX_BYTES, MAX_LINES, RequestWriter, make_request, request_id
from curate.records import ID, TEXT
from curate.rewrite.candidates import candidates
from curate.rewrite.chunking import chunk_text
from curate.rewrite.policy import Policy
from curate.rewrite.queue import (EXPORTS, INDEX, MANIFEST, IndexWriter, PromptWriter, export_dirs, next_export_name, queued_keys,
                                  write_json)
from curate.rewrite.scan import InputStats, needs_scan, scan_inputs
from curate.rewrite.select import Selector
from curate.rewrite.styles import Style
from curate.rewrite.tokens import DEFAULT_CHARS_PER_TOKEN, TokenCounter, token_counter
from curate.shards import SHARD_SUFFIXES

log = logging.getLogger("curate")
FORMATS = ("batch", "prompts")
OVERSIZE_EXAMPLES = 20


@dataclass
class StyleCounts:
    documents: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens_max: int = 0
    output_tokens_expected: int = 0
    too_short: int = 0
    oversize_segment: int = 0


@dataclass
class ExportResult:
    export_dir: Path | None  # None when nothing new was queued
    manifest: dict
    files: list[Path] = field(default_factory=list)


def doc_key(doc: dict) -> str:
    """A document's identity for the queue: its id and a hash of its text."""
    return f"{doc[ID]}@{xxhash.xxh3_64_hexdigest(doc[TEXT].encode('utf-8', 'surrogatepass'))}"


def _prompt_overhead(style: Style, counter: TokenCounter) -> int:
    """Tokens of a style's request without the document (instructions, markers)."""
    return counter.count(style.prompt(""))


@dataclass
class _Job:
    """What every per-shard task needs (picklable: it goes to worker processes)."""

    policy: Policy
    styles: dict[str, Style]
    stats: InputStats
    tokens_per_doc: float
    tokenizer: Path | None
    fmt: str
    queue: Path
    requeue: bool
    spool: Path
    exports: tuple[str, ...]  # the earlier exports of the queue


@dataclass
class _ShardOut:
    """A shard's candidates, in input order, with their requests spooled to files."""

    reasons: Counter
    skips: dict[str, Counter]  # style -> too_short / oversize_segment
    oversize_examples: list[dict]
    # per candidate: doc key, domain, input tokens, number of requests, per-style request stats
    docs: list[tuple[str, str, int, int, tuple]]
    lines: Path
    index: Path


@functools.cache
def _counter(tokenizer: Path | None) -> TokenCounter:
    return token_counter(tokenizer)


@functools.lru_cache(maxsize=2)
def _queued(queue: Path, exports: tuple[str, ...]) -> frozenset:
    """Keys queued by the given earlier exports (cached per worker process; the key changes
    with every new export, so a long-lived process never sees a stale set)."""
    return frozenset(queued_keys(queue))


def _prepare_shard(job: _Job, number: int, shard) -> _ShardOut:
    """Everything per document that does not depend on other documents: the policy's cheap
    checks, already-queued, chunking, token counts, and the request lines themselves."""
    policy, styles = job.policy, job.styles
    counter = _counter(job.tokenizer)
    selector = Selector(policy, job.stats, job.tokens_per_doc)
    already = frozenset() if job.requeue else _queued(job.queue, job.exports)
    overhead = {ref: _prompt_overhead(s, counter) for ref, s in styles.items()}
    params = {ref: {**s.request_params(), **policy.params} for ref, s in styles.items()}
    reasons: Counter[str] = Counter()
    skips = {s.name: Counter() for s in styles.values()}
    examples: list[dict] = []
    docs = []
    lines_path, index_path = job.spool / f"{number:05d}.jsonl", job.spool / f"{number:05d}.index.parquet"
    index = IndexWriter(index_path)
    ratio = policy.price.output_ratio
    with open(lines_path, "wb") as out:
        for doc, names in candidates(shard, selector, reasons):
            key = doc_key(doc)
            if key in already:
                reasons["already_queued"] += 1
                continue
            language = doc.get(policy.language_column)
            language = language if isinstance(language, str) else None
            plans, skipped = [], []
            for ref in names:
                style = styles[ref]
                ch = chunk_text(doc[TEXT], style.input_tokens, counter, language)
                if ch.total_tokens < style.min_segment_tokens:
                    skips[style.name]["too_short"] += 1
                    skipped.append("too_short")
                    continue
                if ch.oversize:
                    skips[style.name]["oversize_segment"] += 1
                    if len(examples) < OVERSIZE_EXAMPLES:
                        examples.append({"id": doc[ID], "style": style.name, "segments": ch.oversize[:5],
                                         "budget": style.input_tokens, "largest": max(ch.tokens)})
                    if policy.oversize == "skip_document":
                        skipped.append("oversize_segment")
                        continue
                plans.append((ref, style, ch))
            if not plans:
                reasons[skipped[0]] += 1
                continue
            carry = {c: doc[c] for c in policy.carry_columns if doc.get(c) is not None}
            carry_json = orjson.dumps(carry, default=str).decode() if carry else None
            doc_tokens = n_requests = 0
            per_style = []
            parent_id, url, parent_source = str(doc[ID]), doc.get("url"), doc.get("source")
            for ref, style, ch in plans:
                n_chunks = len(ch.chunks)
                p = params[ref]
                out_max = int(p.get("max_tokens", style.output_tokens))
                s_in = s_exp = 0
                for i, (text, n_tok) in enumerate(zip(ch.chunks, ch.tokens)):
                    cid = request_id(key, i, f"rewrite:{style.name}", style.version, policy.model, p)
                    if job.fmt == "batch":
                        line = make_request(cid, style.messages(text), policy.model, **p)
                    else:
                        line = {"custom_id": cid, "prompt": style.prompt(text)}
                        if "response_format" in p:  # for engines that constrain decoding offline
                            line["response_format"] = p["response_format"]
                    out.write(orjson.dumps(line) + b"\n")
                    in_tok = n_tok + overhead[ref]
                    s_in += in_tok
                    s_exp += min(out_max, int(n_tok * ratio + 0.5))
                    index.add(cid, key, parent_id, i, n_chunks, style.name, ref, style.version, policy.model, in_tok,
                              url, parent_source, carry_json)
                n = len(ch.chunks)
                per_style.append((style.name, n, s_in, out_max * n, s_exp))
                doc_tokens += s_in
                n_requests += n
            docs.append((key, selector.domain_of(doc), doc_tokens, n_requests, tuple(per_style)))
    index.close()
    return _ShardOut(reasons, skips, examples, docs, lines_path, index_path)


def _run_shards(job: _Job, shards: list, workers: int):
    """The per-shard work, in input order; in worker processes when workers > 1."""
    if workers <= 1 or len(shards) <= 1:
        for i, shard in enumerate(shards):
            yield _prepare_shard(job, i, shard)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(workers, len(shards)),
                             mp_context=multiprocessing.get_context("forkserver")) as pool:
        futures = [pool.submit(_prepare_shard, job, i, shard) for i, shard in enumerate(shards)]
        for f in futures:
            yield f.result()


def export_queue(inputs: list[str], queue: Path, policy: Policy, styles: dict[str, Style], *, fmt: str = "batch",
                 requeue: bool = False, tokenizer: Path | None = None, max_lines: int = MAX_LINES,
                 max_bytes: int = MAX_BYTES, policy_file: str | None = None, workers: int = 1) -> ExportResult:
    """Export the requests `policy` asks for from `inputs` into a new export of `queue`.

    Shards are prepared in parallel (`workers` processes); the budget and per-domain caps are
    then applied in input order in this process, so the result does not depend on `workers`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose {' or '.join(FORMATS)}")
    started = time.time()
    queue = Path(queue)
    counter = token_counter(tokenizer)
    shards = resolve_inputs(inputs, SHARD_SUFFIXES)
    paths = [s.path for s in shards if s.path is not None]
    stats = scan_inputs(paths, policy) if needs_scan(policy) else InputStats()
    overhead = {ref: _prompt_overhead(s, counter) for ref, s in styles.items()}
    n_styles = max(1, len(styles)) if policy.styles is not None else 1
    avg_chars = stats.eligible_chars / stats.eligible if stats.eligible else 0
    tokens_per_doc = n_styles * (avg_chars / DEFAULT_CHARS_PER_TOKEN + sum(overhead.values()) / max(1, len(overhead)))
    selector = Selector(policy, stats, tokens_per_doc)

    name = next_export_name(queue)
    root = queue / EXPORTS
    final_dir = root / name
    tmp_dir = root / f".{name}.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    spool = tmp_dir / ".spool"
    spool.mkdir(parents=True)
    job = _Job(policy, styles, stats, tokens_per_doc, tokenizer, fmt, queue, requeue, spool,
               tuple(d.name for d in export_dirs(queue)))
    writer = (RequestWriter(tmp_dir, "requests", max_lines, max_bytes) if fmt == "batch"
              else PromptWriter(tmp_dir, "prompts", max_lines, max_bytes))
    index = IndexWriter(tmp_dir / INDEX)
    reasons: Counter[str] = Counter()
    per_style: dict[str, StyleCounts] = {s.name: StyleCounts() for s in styles.values()}
    oversize_examples: list[dict] = []
    taken: set[str] = set()
    try:
        for out in _run_shards(job, shards, workers):
            reasons.update(out.reasons)
            for style_name, c in out.skips.items():
                per_style[style_name].too_short += c["too_short"]
                per_style[style_name].oversize_segment += c["oversize_segment"]
            oversize_examples += out.oversize_examples[:OVERSIZE_EXAMPLES - len(oversize_examples)]
            keep: list[bool] = []
            with open(out.lines, "rb") as lines:
                for key, domain, tokens, n_requests, styles_of_doc in out.docs:
                    block = [next(lines) for _ in range(n_requests)]
                    if key in taken:
                        why = "duplicate_document"  # the same id and text twice in the input
                    elif selector.budget_full() or selector.over_budget(tokens):
                        why = "over_budget"
                    elif selector.domain_full(domain):
                        why = "domain_cap"
                    else:
                        why = "queued"
                    reasons[why] += 1
                    keep += [why == "queued"] * n_requests
                    if why != "queued":
                        continue
                    taken.add(key)
                    selector.take(domain, tokens)
                    for line in block:
                        writer.write(orjson.loads(line))
                    for style_name, n, s_in, s_max, s_exp in styles_of_doc:
                        c = per_style[style_name]
                        c.documents += 1
                        c.requests += n
                        c.input_tokens += s_in
                        c.output_tokens_max += s_max
                        c.output_tokens_expected += s_exp
            index.write_table(pq.read_table(out.index).filter(pa.array(keep, type=pa.bool_())))
            out.lines.unlink()
            out.index.unlink()
        files = writer.close()
        index.close()
        shutil.rmtree(spool, ignore_errors=True)
    except BaseException:
        writer.abort()
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise

    read = reasons.pop("read", 0)
    manifest = _manifest(name, policy, styles, policy_file, inputs, fmt, stats, read, reasons, per_style, counter,
                         oversize_examples, requeue, time.time() - started)
    manifest["budget_sample_rate"] = selector.sample_rate
    if reasons["queued"] == 0:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        manifest["export"] = None
        manifest["files"] = []
        return ExportResult(None, manifest, [])
    manifest["files"] = [p.name for p in files]
    write_json(tmp_dir / MANIFEST, manifest)
    tmp_dir.rename(final_dir)
    write_json(queue / MANIFEST, manifest)
    return ExportResult(final_dir, manifest, [final_dir / p.name for p in files])


def _manifest(name, policy: Policy, styles: dict[str, Style], policy_file, inputs, fmt, stats: InputStats, read,
              reasons, per_style, counter, oversize_examples, requeue, seconds) -> dict:
    total = StyleCounts()
    for c in per_style.values():
        for f in ("documents", "requests", "input_tokens", "output_tokens_max", "output_tokens_expected"):
            setattr(total, f, getattr(total, f) + getattr(c, f))
    price = policy.price
    cost_in = total.input_tokens / 1e6 * price.input_per_million
    cost_out = total.output_tokens_expected / 1e6 * price.output_per_million
    cost_out_max = total.output_tokens_max / 1e6 * price.output_per_million
    return {
        "export": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(seconds, 2),
        "format": fmt,
        "inputs": list(inputs),
        "policy_file": policy_file,
        "policy": policy.model_dump(mode="json"),
        "policy_hash": policy.hash(styles),
        "styles": {ref: s.model_dump(mode="json") for ref, s in styles.items()},
        "band": ({"column": policy.band.column, "low": policy.band.low, "high": policy.band.high,
                  "values": list(stats.band), "scored_documents": stats.scored} if policy.band else None),
        "eligible_documents": stats.eligible if needs_scan(policy) else None,
        "budget_sample_rate": None,
        "requeue": requeue,
        "documents": {"read": read, "queued": reasons.get("queued", 0), "by_reason": dict(sorted(reasons.items()))},
        "by_style": {k: vars(v) for k, v in per_style.items()},
        "requests": total.requests,
        "tokens": {"method": counter.method, "estimate": not counter.exact, "input": total.input_tokens,
                   "output_max": total.output_tokens_max, "output_expected": total.output_tokens_expected,
                   "output_ratio": price.output_ratio},
        "cost": {"currency": price.currency, "input_per_million": price.input_per_million,
                 "output_per_million": price.output_per_million, "input": round(cost_in, 4),
                 "output_expected": round(cost_out, 4), "total_expected": round(cost_in + cost_out, 4),
                 "total_max": round(cost_in + cost_out_max, 4)},
        "oversize_examples": oversize_examples,
    }
