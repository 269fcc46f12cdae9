"""`curate rewrite-queue ingest`: take the answers back and write the rewrites as documents.

Answers are joined to the queue's index by custom_id (never by order: batch output comes in any
order). Each answer is checked: the request failed, empty, truncated (finish_reason "length"),
refused (configurable patterns), missing the style's answer prefix, or in the wrong format for
the style (QA without question/answer pairs, a list without items, a json style's answer that is
not a JSON object with its string field); a response for no known request and every duplicate
after the first answer for a request are rejected too. A document
whose chunks are all good is put back together in chunk order, with the prefix stripped;
a document with any chunk missing or bad is held back whole (its good chunks go to rejected/
as `chunks_missing`), never half-assembled. Everything read ends up in OUT/rewrites.* or
OUT/rejected/rewrites.*, with the raw answer kept.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curate.llm.batch import Answer, iter_responses
from curate.records import register_columns, reject
from curate.rewrite.queue import INDEX, QueueError, export_dirs, read_manifest, write_json
from curate.rewrite.styles import Style
from curate.shards import ShardWriter, suffix_for

OUTPUT_NAME = "rewrites"
REPORT = Path("_manifest") / "rewrite-queue-ingest.json"
PREFIX = "rewrite-queue"
REFUSAL_WINDOW = 300
# Openings of answers that decline the task instead of doing it (matched case-insensitively
# at the start of the answer, after any leading whitespace).
DEFAULT_REFUSALS = [
    r"I(?:'m| am) sorry",
    r"I(?:'m| am)? ?(?:not able|unable) to",
    r"I can(?:'|no)t (?:help|assist|comply|do that|rewrite|provide|fulfil)",
    r"I cannot (?:help|assist|comply|do that|rewrite|provide|fulfil)",
    r"I won'?t (?:help|assist|be able)",
    r"As an AI(?: language model)?",
    r"Sorry, (?:but )?I",
    r"I apologi[sz]e",
]

COLUMNS = {
    "parent_id": pa.string(),
    "parent_source": pa.string(),
    "rewrite_style": pa.string(),
    "prompt_version": pa.string(),
    "model": pa.string(),
    "finish_reason": pa.string(),
    "rewrite_chunks": pa.int32(),
    "rewrite_prompt_tokens": pa.int64(),
    "rewrite_completion_tokens": pa.int64(),
    "synthetic": pa.bool_(),
    "custom_id": pa.string(),
    "chunk": pa.int32(),
    "raw_response": pa.string(),
}
register_columns(COLUMNS)


class IngestError(Exception):
    """The queue or a response file cannot be used; the message names it."""


@dataclass
class IngestResult:
    out_dir: Path
    responses: int = 0
    kept_documents: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> answers
    held_back_documents: int = 0
    unanswered_requests: int = 0
    unanswered_documents: int = 0
    files: list[Path] = field(default_factory=list)

    def report(self) -> dict:
        return {"responses": self.responses, "kept_documents": self.kept_documents,
                "rejected_answers": dict(sorted(self.rejected.items())),
                "held_back_documents": self.held_back_documents,
                "unanswered_requests": self.unanswered_requests,
                "unanswered_documents": self.unanswered_documents,
                "files": [str(p) for p in self.files]}


@dataclass
class _Request:
    group: tuple  # (doc_key, style, prompt_version, model): one rewrite document
    chunk: int
    n_chunks: int
    parent_id: str
    style: str
    prompt_version: str
    model: str
    url: str | None
    parent_source: str | None
    carry: str | None


def load_queue(queue: Path) -> tuple[dict[str, _Request], dict[tuple[str, str], Style]]:
    """Every request of every export (custom_id -> what it was for) and the styles they used."""
    exports = export_dirs(queue)
    if not exports:
        raise IngestError(f"{queue}: no export found (expected {queue}/exports/NNNN/ from `curate rewrite-queue export`)")
    requests: dict[str, _Request] = {}
    styles: dict[tuple[str, str], Style] = {}
    for d in exports:
        manifest = read_manifest(d)
        for dump in manifest.get("styles", {}).values():
            style = Style(**dump)
            styles[(style.name, style.version)] = style
        table = pq.read_table(d / INDEX)
        cols = table.to_pydict()
        for i, cid in enumerate(cols["custom_id"]):
            if cid in requests:
                continue  # the same request queued again (requeue): same meaning
            key = (cols["doc_key"][i], cols["style"][i], cols["prompt_version"][i], cols["model"][i])
            requests[cid] = _Request(key, cols["chunk"][i], cols["n_chunks"][i], cols["parent_id"][i], cols["style"][i],
                                     cols["prompt_version"][i], cols["model"][i], cols["url"][i],
                                     cols["parent_source"][i], cols["carry"][i])
    return requests, styles


def rewrite_id(group: tuple) -> str:
    """A rewrite's id: stable for the same parent text, style, prompt version and model."""
    return "rw-" + xxhash.xxh3_128_hexdigest("\x1f".join(group))[:24]


class _Checker:
    def __init__(self, refusals: list[str]):
        try:
            self.refusal = re.compile(r"\A\s*(?:" + "|".join(f"(?:{p})" for p in refusals) + ")", re.I) if refusals else None
        except re.error as e:
            raise IngestError(f"bad refusal pattern: {e}") from None

    def check(self, ans: Answer, style: Style) -> tuple[str | None, str, str]:
        """(rewritten text or None, reason, detail)."""
        if ans.error:
            return None, "request_failed", ans.error
        text = ans.text or ""
        if not text.strip():
            return None, "empty", f"finish_reason {ans.finish_reason}"
        if ans.finish_reason == "length":
            return None, "truncated", "finish_reason length: the answer hit max_tokens"
        if self.refusal and self.refusal.search(text[:REFUSAL_WINDOW]):
            return None, "refused", text.strip()[:80]
        body, why, detail = style.parse_detail(text)
        if body is None:
            return None, why, detail
        if style.parser == "json" and self.refusal and self.refusal.search(body[:REFUSAL_WINDOW]):
            return None, "refused", body[:80]  # a refusal written into the JSON field
        return body, "", ""


def ingest_responses(responses: list[str | Path], queue: Path, out: Path, fmt: str = "parquet",
                     refusals: list[str] | None = None) -> IngestResult:
    requests, styles = load_queue(Path(queue))
    checker = _Checker(DEFAULT_REFUSALS if refusals is None else refusals)
    out = Path(out)
    result = IngestResult(out)
    kept_w = ShardWriter(out / f"{OUTPUT_NAME}{suffix_for(fmt)}", fmt)
    rej_w = ShardWriter(out / "rejected" / f"{OUTPUT_NAME}{suffix_for(fmt)}", fmt)
    seen: set[str] = set()
    # group -> chunk -> (text, answer); groups with a bad chunk -> {chunk: reason}
    pending: dict[tuple, dict[int, tuple[str, Answer]]] = {}
    bad: dict[tuple, dict[int, str]] = {}

    def rejected(ans: Answer, req: _Request | None, reason: str, detail: str, suffix: str = "") -> None:
        result.rejected[reason] += 1
        rec = {"id": ans.custom_id + suffix, "text": ans.text, "url": req.url if req else None,
               "source": f"rewrite:{req.style}" if req else "rewrite:unknown",
               "custom_id": ans.custom_id, "parent_id": req.parent_id if req else None,
               "rewrite_style": req.style if req else None, "chunk": req.chunk if req else None,
               "model": ans.model or (req.model if req else None), "finish_reason": ans.finish_reason,
               "raw_response": orjson.dumps(ans.raw).decode()}
        rej_w.write(reject(rec, f"{PREFIX}:{reason}", detail))

    duplicates = Counter()
    try:
        try:
            for ans in iter_responses([Path(p) for p in responses]):
                result.responses += 1
                req = requests.get(ans.custom_id)
                if req is None:
                    rejected(ans, None, "unknown_request", "no request in the queue has this custom_id",
                             f"#unknown{result.responses}")
                    continue
                if ans.custom_id in seen:
                    duplicates[ans.custom_id] += 1
                    rejected(ans, req, "duplicate", "a later answer for a request already answered; the first is kept",
                             f"#dup{duplicates[ans.custom_id]}")
                    continue
                seen.add(ans.custom_id)
                style = styles.get((req.style, req.prompt_version))
                if style is None:
                    raise IngestError(f"{queue}: style {req.style} version {req.prompt_version} is in the index "
                                      f"but in no export manifest")
                text, reason, detail = checker.check(ans, style)
                if text is None:
                    rejected(ans, req, reason, detail)
                    bad.setdefault(req.group, {})[req.chunk] = reason
                    continue
                chunks = pending.setdefault(req.group, {})
                chunks[req.chunk] = (text, ans)
                if len(chunks) == req.n_chunks and req.group not in bad:
                    kept_w.write(_assemble(req, chunks))
                    result.kept_documents += 1
                    del pending[req.group]
        except (ValueError, OSError) as e:  # BatchFileError is a ValueError naming file and line
            raise IngestError(str(e)) from None

        # what is left: documents missing chunks; their good chunks are held back, not lost
        n_chunks: dict[tuple, int] = {}
        for cid, req in requests.items():
            n_chunks[req.group] = req.n_chunks
            if cid not in seen:
                result.unanswered_requests += 1
        answered = {requests[cid].group for cid in seen}
        result.unanswered_documents = sum(1 for g in n_chunks if g not in answered)
        for group, chunks in pending.items():
            total = n_chunks[group]
            problems = bad.get(group, {})
            missing = [i for i in range(total) if i not in chunks and i not in problems]
            detail = (f"document held back: {len(chunks)} of {total} chunks usable"
                      + (f"; missing {missing}" if missing else "")
                      + (f"; rejected {dict(sorted(problems.items()))}" if problems else ""))
            for i, (text, ans) in sorted(chunks.items()):
                req = requests[ans.custom_id]
                rejected(ans, req, "chunks_missing", detail)
            result.held_back_documents += 1
        result.held_back_documents += sum(1 for g in bad if g not in pending)
        files = [p for p in (kept_w.commit(), rej_w.commit()) if p is not None]
    except BaseException:
        kept_w.abort()
        rej_w.abort()
        raise
    result.files = files
    (out / REPORT.parent).mkdir(parents=True, exist_ok=True)
    write_json(out / REPORT, result.report())
    return result


def _assemble(req: _Request, chunks: dict[int, tuple[str, Answer]]) -> dict:
    ordered = [chunks[i] for i in range(req.n_chunks)]
    answers = [a for _, a in ordered]
    finish = sorted({a.finish_reason or "" for a in answers})
    doc = {
        "id": rewrite_id(req.group),
        "text": "\n".join(t for t, _ in ordered),
        "url": req.url,
        "source": f"rewrite:{req.style}",
        "parent_id": req.parent_id,
        "parent_source": req.parent_source,
        "rewrite_style": req.style,
        "prompt_version": req.prompt_version,
        "model": next((a.model for a in answers if a.model), req.model),
        "finish_reason": ",".join(f for f in finish if f) or None,
        "rewrite_chunks": req.n_chunks,
        "rewrite_prompt_tokens": sum(int(a.usage.get("prompt_tokens") or 0) for a in answers),
        "rewrite_completion_tokens": sum(int(a.usage.get("completion_tokens") or 0) for a in answers),
        "synthetic": True,
    }
    if req.carry:
        for k, v in orjson.loads(req.carry).items():
            doc.setdefault(k, v)
    return doc
