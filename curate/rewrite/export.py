"""`curate rewrite-queue export`: choose documents by policy, chunk them, write request files.

Two passes: DuckDB finds the band's percentile cut values and eligible counts over all inputs
(scan.py); then every document is read once, decided on (select.py), cut into chunks
(chunking.py) and written as one request per chunk and style. Request ids are content hashes
(curate.llm.batch.request_id over the document's id and text hash, chunk, style, prompt
version, model and parameters), so exporting the same input again writes nothing new, and
documents queued by an earlier export are skipped unless `requeue` is asked.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import xxhash

from curate.inputs import resolve_inputs
from curate.llm.batch import MAX_BYTES, MAX_LINES, RequestWriter, make_request, request_id
from curate.records import ID, TEXT
from curate.rewrite.candidates import candidates
from curate.rewrite.chunking import chunk_text
from curate.rewrite.policy import Policy
from curate.rewrite.queue import (EXPORTS, INDEX, MANIFEST, IndexWriter, PromptWriter, next_export_name, queued_keys,
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


def export_queue(inputs: list[str], queue: Path, policy: Policy, styles: dict[str, Style], *, fmt: str = "batch",
                 requeue: bool = False, tokenizer: Path | None = None, max_lines: int = MAX_LINES,
                 max_bytes: int = MAX_BYTES, policy_file: str | None = None) -> ExportResult:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose {' or '.join(FORMATS)}")
    started = time.time()
    counter = token_counter(tokenizer)
    shards = resolve_inputs(inputs, SHARD_SUFFIXES)
    paths = [s.path for s in shards if s.path is not None]
    stats = scan_inputs(paths, policy) if needs_scan(policy) else InputStats()
    overhead = {ref: _prompt_overhead(s, counter) for ref, s in styles.items()}
    n_styles = max(1, len(styles)) if policy.styles is not None else 1
    avg_chars = stats.eligible_chars / stats.eligible if stats.eligible else 0
    tokens_per_doc = n_styles * (avg_chars / DEFAULT_CHARS_PER_TOKEN + sum(overhead.values()) / max(1, len(overhead)))
    selector = Selector(policy, stats, tokens_per_doc)
    already = set() if requeue else queued_keys(queue)

    name = next_export_name(queue)
    root = Path(queue) / EXPORTS
    final_dir = root / name
    tmp_dir = root / f".{name}.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    writer = (RequestWriter(tmp_dir, "requests", max_lines, max_bytes) if fmt == "batch"
              else PromptWriter(tmp_dir, "prompts", max_lines, max_bytes))
    index = IndexWriter(tmp_dir / INDEX)
    reasons: Counter[str] = Counter()
    per_style: dict[str, StyleCounts] = {s.name: StyleCounts() for s in styles.values()}
    oversize_examples: list[dict] = []
    try:
        for shard in shards:
            for doc, names in candidates(shard, selector, reasons):
                key = doc_key(doc)
                if key in already:
                    reasons["already_queued"] += 1
                    continue
                if selector.budget_full():
                    reasons["over_budget"] += 1
                    continue
                domain = selector.domain_of(doc)
                if selector.domain_full(domain):
                    reasons["domain_cap"] += 1
                    continue
                language = doc.get(policy.language_column)
                language = language if isinstance(language, str) else None
                plans = []
                skipped = []
                for ref in names:
                    style = styles[ref]
                    ch = chunk_text(doc[TEXT], style.input_tokens, counter, language)
                    if ch.total_tokens < style.min_segment_tokens:
                        per_style[style.name].too_short += 1
                        skipped.append("too_short")
                        continue
                    if ch.oversize:
                        per_style[style.name].oversize_segment += 1
                        if len(oversize_examples) < OVERSIZE_EXAMPLES:
                            oversize_examples.append({"id": doc[ID], "style": style.name, "segments": ch.oversize[:5],
                                                      "budget": style.input_tokens,
                                                      "largest": max(ch.tokens)})
                        if policy.oversize == "skip_document":
                            skipped.append("oversize_segment")
                            continue
                    plans.append((ref, style, ch))
                if not plans:
                    reasons[skipped[0]] += 1
                    continue
                doc_tokens = sum(sum(ch.tokens) + overhead[ref] * len(ch.chunks) for ref, _, ch in plans)
                if selector.over_budget(doc_tokens):
                    reasons["over_budget"] += 1
                    continue
                selector.take(domain, doc_tokens)
                reasons["queued"] += 1
                carry = {c: doc[c] for c in policy.carry_columns if doc.get(c) is not None}
                carry_json = orjson.dumps(carry, default=str).decode() if carry else None
                for ref, style, ch in plans:
                    params = {**style.request_params(), **policy.params}
                    counts = per_style[style.name]
                    counts.documents += 1
                    for i, (text, n_tok) in enumerate(zip(ch.chunks, ch.tokens)):
                        cid = request_id(key, i, f"rewrite:{style.name}", style.version, policy.model, params)
                        if fmt == "batch":
                            writer.write(make_request(cid, style.messages(text), policy.model, **params))
                        else:
                            writer.write({"custom_id": cid, "prompt": style.prompt(text)})
                        in_tok = n_tok + overhead[ref]
                        out_max = int(params.get("max_tokens", style.output_tokens))
                        counts.requests += 1
                        counts.input_tokens += in_tok
                        counts.output_tokens_max += out_max
                        counts.output_tokens_expected += min(out_max, int(n_tok * policy.price.output_ratio + 0.5))
                        index.add(custom_id=cid, doc_key=key, parent_id=str(doc[ID]), chunk=i, n_chunks=len(ch.chunks),
                                  style=style.name, style_ref=ref, prompt_version=style.version, model=policy.model,
                                  input_tokens=in_tok, url=doc.get("url"), parent_source=doc.get("source"),
                                  carry=carry_json)
        files = writer.close()
        index.close()
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
    write_json(Path(queue) / MANIFEST, manifest)
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
