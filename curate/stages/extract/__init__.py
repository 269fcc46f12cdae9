"""The extract stage: web archives (WARC, ARC, WET) and HTML files to documents with main text and language.

`read()` turns each input file into raw records (one per HTML page or archive record worth
keeping; other records such as requests and metadata are only counted, in the log);
`process()` decodes, extracts the main text and identifies the language (lid.176, batched).
Records that cannot become documents are rejected with a reason and keep their provenance
(`source_file`, `source_offset`), so every one can be found again in its archive.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pyarrow as pa
import xxhash
from pydantic import Field
from resiliparse.parse.html import HTMLTree

from curate.inputs import InputShard
from curate.langid import predict_languages
from curate.logs import log
from curate.models import resolve_model
from curate.records import ID, REJECT_REASON, SOURCE, TEXT, URL
from curate.errors import StageError
from curate.stage import Stage, StageConfig
from curate.stages import register
from curate.stages.extract.boilerplate import ExtractOptions, extract_main_text
from curate.stages.extract.deadline import DocumentTimeout, time_limit
from curate.stages.extract.html import binary_reason, decode_html
from curate.stages.extract.http import mime_of, split_http
from curate.stages.extract.language_gate import EARLY_COLUMN, LanguageGate, early_language
from curate.stages.extract.warc import RawRecord, iter_records, sniff


HTML_SUFFIXES = (".html", ".htm", ".xhtml")
ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wet", ".wet.gz", ".wat", ".wat.gz")
HTML_MIMES = ("text/html", "application/xhtml+xml", "application/xml+xhtml", "application/vnd.wap.xhtml+xml")
DOCUMENT_RECORDS = ("response", "resource", "arc")
LID_BATCH = 256
# Private fields that carry the raw payload from read() to process(); never written.
_PAYLOAD, _CHARSET_HINT, _IS_TEXT, _CUT = "_payload", "_charset_hint", "_is_text", "_crawler_truncated"


class ExtractConfig(StageConfig):
    extractor: Literal["curate", "trafilatura"] = Field(
        "curate", description="Main-content extractor: curate (resiliparse + boilerplate pass) or trafilatura (favor_precision, FineWeb's setting; ~15x slower)."
    )
    # Common Crawl truncates payloads at 1 MiB; pages beyond that are mostly data dumps.
    max_html_bytes: int = Field(1 << 20, ge=1024, description="Parse at most this many bytes of each page (the rest is cut and the document marked html_truncated).")
    timeout_seconds: float = Field(5.0, ge=0, description="Per-document time limit for extraction (0 = none); slower pages are rejected as extract:timeout.")
    long_line_chars: int = Field(70, ge=1, description="Lines at least this wide (CJK characters count 3) are prose; the article spans the first to the last of them.")
    keep_head_lines: int = Field(1, ge=0, description="Short lines kept just before the first prose line (the headline).")
    min_main_chars: int = Field(200, ge=0, description="Below this much main text, the whole page's text goes through the boilerplate pass instead.")
    include_comments: bool = Field(False, description="Keep user comment sections as main content.")
    # model is the default: on unseen pages (the dev sets' check halves) its F1 is above trafilatura's on
    # Readability's pages and 0.0006 below on trafilatura's, where the rules are 0.024 below; the rules are
    # a few percent faster (docs/extract.md, side by side).
    method: Literal["model", "rules"] = Field("model", description="curate extractor: model (block classifier: F1 within 0.001 of trafilatura's or above it on unseen pages, 9-12x its speed) or rules (line rules: 10-13x its speed, 0.024 less F1 on trafilatura's pages).")
    # Chromium's HTML parser nests at most 512 levels (kMaximumHTMLParserDOMTreeDepth); resiliparse's main-content pass is quadratic in depth.
    max_dom_depth: int = Field(512, ge=8, description="Pages nested deeper skip the main-content pass (quadratic in depth) for the whole-page pass.")
    lid_model: str = Field("lid176", description="Language-ID model: a registered name (curate models) or a fastText .bin/.ftz path.")
    # 2,000 characters gave the same top label as the full text on all 445 documents of the sample crawl and
    # the real WARCs, at about twice the speed of 10,000 (lid.176 cost grows with length).
    lid_max_chars: int = Field(2_000, ge=0, description="Identify the language on the first this many characters (0 = all).")
    only_http_2xx: bool = Field(True, description="Only HTTP 2xx responses become documents; redirects and errors are counted, not kept.")


@register
class ExtractStage(Stage):
    """Extract main text and language from WARC/ARC/WET archives and HTML files."""

    name = "extract"
    Config = ExtractConfig
    version = "1"
    input_suffixes = ARCHIVE_SUFFIXES + HTML_SUFFIXES
    columns = {
        "crawl_date": pa.string(),
        "domain": pa.string(),
        "content_type": pa.string(),
        "charset": pa.string(),
        "title": pa.string(),
        "language": pa.string(),
        "language_score": pa.float32(),
        "source_offset": pa.int64(),
        "html_bytes": pa.int64(),
        "html_truncated": pa.bool_(),
        # what was done to an HTTP body per declared coding, e.g. "chunked,gzip" or "stale-gzip-kept-raw"
        "extract_http_decoding": pa.string(),
        EARLY_COLUMN: pa.bool_(),  # the language push-down skipped the main-text pass (language_gate.py)
    }
    # Set by `curate run` when the next stage keeps only some languages (pipeline.push_language_check).
    language_gate: LanguageGate | None = None
    examples = (
        "curate extract crawl/*.warc.gz -o runs/extracted --workers 2\n"
        "curate extract saved_pages/ -o - | head -1\n"
        "curate extract CC-MAIN-2024-22.warc.wet.gz -o runs/wet --lid-max-chars 2000"
    )

    # -- checks and fingerprint ----------------------------------------------------

    def check(self) -> None:
        resolve_model(self.config.lid_model)
        if self.config.extractor == "trafilatura":
            try:
                import trafilatura  # noqa: F401
            except ImportError:
                raise StageError("extract: extractor 'trafilatura' needs the trafilatura package (make setup installs it)") from None

    def fingerprint_extra(self) -> dict:
        info, _ = resolve_model(self.config.lid_model, verify=False)
        gate = self.language_gate
        return {"lid_sha256": info.sha256, **({"language_gate": [list(gate.languages), gate.min_score]} if gate else {})}

    # -- reading -------------------------------------------------------------------

    def read(self, shard: InputShard) -> Iterator[dict]:
        path = shard.path
        if path is None:
            raise StageError("extract reads files (WARC/ARC/WET/HTML), not stdin")
        if path.name.lower().endswith(HTML_SUFFIXES):
            yield self._html_file(path, shard.source)
            return
        if sniff(path).lstrip()[:1] in (b"{", b"["):
            doc = self._base(path, shard.source, 0, None, xxhash.xxh3_128_hexdigest(str(path)))
            yield self.reject(doc, "not_archive", f"{path}: JSON, not a web archive; read it with `curate ingest`")
            return
        skipped: Counter[str] = Counter()
        documents = damaged = 0
        for rec in iter_records(path, self.config.max_html_bytes + (64 << 10)):
            doc = self._record_doc(rec, path, shard.source, skipped)
            if doc is not None:
                damaged += bool(doc.get(REJECT_REASON))
                documents += not doc.get(REJECT_REASON)
                yield doc
        log.log(*_read_summary(path, documents, damaged, skipped))

    def _base(self, path: Path, source: str, offset: int | None, url: str | None, rid: str) -> dict:
        return {
            ID: rid, TEXT: "", URL: url, SOURCE: source, "source_file": str(path), "source_offset": offset,
            "domain": _domain(url), "crawl_date": None,
        }

    def _html_file(self, path: Path, source: str) -> dict:
        with open(path, "rb") as f:
            data = f.read(self.config.max_html_bytes)
        rid = xxhash.xxh3_128_hexdigest(path.name.encode() + b"\0" + hashlib.sha1(data).digest())
        doc = self._base(path, source, 0, None, rid)
        doc.update({"content_type": "text/html", "html_bytes": path.stat().st_size,
                    _PAYLOAD: data, _CHARSET_HINT: None, _IS_TEXT: False})
        return doc

    def _record_doc(self, rec: RawRecord, path: Path, source: str, skipped: Counter) -> dict | None:
        rid = _record_id(rec)
        if rec.problem:
            doc = self._base(path, source, rec.offset, rec.url, rid)
            doc.update(crawl_date=rec.date, html_bytes=rec.length)
            reason = rec.problem.split(":", 1)[0]
            return self.reject(doc, reason, f"{path} @ {rec.offset}: {rec.problem}")
        if rec.kind == "conversion":  # WET: text already extracted by the crawler
            doc = self._base(path, source, rec.offset, rec.url, rid)
            doc.update(crawl_date=rec.date, content_type=mime_of(rec.content_type)[0] or "text/plain",
                       html_bytes=rec.length)
            doc.update({_PAYLOAD: rec.block, _CHARSET_HINT: "utf-8", _IS_TEXT: True})
            return doc
        if rec.kind not in DOCUMENT_RECORDS:
            skipped[rec.kind] += 1
            return None
        decoding = None
        if rec.is_http:
            http = split_http(rec.block)
            mime, charset, body, status = http.mime, http.charset, http.body, http.status
            problem, size = http.problem, rec.length - (len(rec.block) - len(http.body))
            decoding = ",".join(http.decoding) or None
        else:  # a resource record or ARC v1 record holding the page itself
            (mime, charset), body, status, problem, size = mime_of(rec.content_type), rec.block, None, None, rec.length
        if self.config.only_http_2xx and status is not None and not 200 <= status < 300:
            skipped[f"http {status // 100}xx"] += 1
            return None
        if mime is None and body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
            mime = "text/html"
        if mime not in HTML_MIMES:
            skipped[mime or "no content type"] += 1
            return None
        doc = self._base(path, source, rec.offset, rec.url, rid)
        doc.update({"crawl_date": rec.date, "content_type": mime, "html_bytes": size, "extract_http_decoding": decoding})
        if problem:
            return self.reject(doc, "truncated" if problem.startswith("truncated") else "bad_encoding", f"{path} @ {rec.offset}: {problem}")
        doc.update({_PAYLOAD: body, _CHARSET_HINT: charset, _IS_TEXT: False, _CUT: rec.crawler_truncated})
        return doc

    # -- processing ----------------------------------------------------------------

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        batch: list[dict] = []
        for doc in docs:
            batch.append(self._extract(doc))
            if len(batch) >= LID_BATCH:
                yield from self._identify(batch)
                batch = []
        yield from self._identify(batch)

    def _extract(self, doc: dict) -> dict:
        payload: bytes | None = doc.pop(_PAYLOAD, None)
        hint, is_text, crawler_cut = doc.pop(_CHARSET_HINT, None), doc.pop(_IS_TEXT, False), doc.pop(_CUT, False)
        if payload is None:  # rejected while reading
            return doc
        cfg = self.config
        where = f"{doc['source_file']} @ {doc['source_offset']}"
        doc["html_truncated"] = crawler_cut or doc["html_bytes"] > cfg.max_html_bytes or len(payload) > cfg.max_html_bytes
        payload = payload[: cfg.max_html_bytes]
        why = binary_reason(payload)
        if why:
            doc[TEXT] = ""
            return self.reject(doc, "not_html", f"{where}: {why}")
        decoded, doc["charset"] = decode_html(payload, hint)
        if is_text:
            doc[TEXT] = decoded.strip()
        else:
            try:
                with time_limit(cfg.timeout_seconds):
                    doc.update(self._main_text(decoded))
            except DocumentTimeout:
                doc[TEXT] = ""
                return self.reject(doc, "timeout", f"{where}: extraction took over {cfg.timeout_seconds:g} s ({len(payload):,} bytes)")
            except Exception as e:  # noqa: BLE001 - a parser failure on one page must not stop the run
                doc[TEXT] = ""
                return self.reject(doc, "parse_error", f"{where}: {type(e).__name__}: {e}")
        if not doc[TEXT]:
            return self.reject(doc, "empty", f"{where}: no main text found")
        return doc

    def _main_text(self, html: str) -> dict:
        """TEXT and title of a page; a page the language gate stops keeps its whole text and language."""
        cfg = self.config
        if cfg.extractor == "trafilatura":
            import trafilatura

            # FineWeb's call (as datatrove makes it); the title from lexbor, as curate's own extractor takes it:
            # trafilatura's metadata pass (with_metadata=True) cost another third of its extraction time
            text = trafilatura.extract(html, favor_precision=True, include_comments=cfg.include_comments, deduplicate=False)
            return {TEXT: text or "", "title": (HTMLTree.parse(html).title or "").strip() or None}
        tree = HTMLTree.parse(html)
        if self.language_gate is not None:
            early = early_language(tree, self.language_gate, cfg.lid_model)
            if early is not None:
                return early
        text, title = extract_main_text(html, _options(cfg), tree)
        return {TEXT: text, "title": title}

    def _identify(self, batch: list[dict]) -> Iterator[dict]:
        todo = [d for d in batch if d.get(TEXT) and not d.get(EARLY_COLUMN)]
        limit = self.config.lid_max_chars or None
        for doc, (lang, score) in zip(todo, predict_languages([d[TEXT] for d in todo], self.config.lid_model, limit)):
            doc["language"], doc["language_score"] = lang, score
        yield from batch


def _read_summary(path: Path, documents: int, damaged: int, skipped: Counter) -> tuple:
    """The log level and message saying what one archive held (the file's words for "nothing to extract")."""
    counts = ", ".join(f"{k} {v}" for k, v in skipped.most_common())
    if documents:
        return "INFO", "{}: {} documents, {} damaged records; records not documents: {}", path, documents, damaged, counts or "none"
    if damaged:
        return ("WARNING", "{}: no documents: {} damaged records (in rejected/); other records: {}",
                path, damaged, counts or "none")
    if skipped:  # e.g. a WAT file (metadata only), or a crawl of images and PDFs
        return "WARNING", "{}: only non-HTML records ({}): no documents to extract", path, counts
    return "WARNING", "{}: no records at all (an empty archive)", path


def _options(cfg: ExtractConfig) -> ExtractOptions:
    return ExtractOptions(long_line_chars=cfg.long_line_chars, keep_head_lines=cfg.keep_head_lines,
                          min_main_chars=cfg.min_main_chars, include_comments=cfg.include_comments,
                          max_depth=cfg.max_dom_depth, method=cfg.method)


def _domain(url: str | None) -> str | None:
    try:
        return urlsplit(url).hostname or None if url else None
    except ValueError:
        return None


def _record_id(rec: RawRecord) -> str:
    """Stable id: the WARC-Record-ID, else a hash of URL and payload digest (ARC, WARC 0.x without ids)."""
    if rec.record_id:
        return rec.record_id.strip().removeprefix("<").removesuffix(">")
    digest = rec.payload_digest or hashlib.sha1(rec.block).hexdigest()
    return xxhash.xxh3_128_hexdigest(f"{rec.url}\0{digest}\0{rec.offset if rec.kind == 'invalid' else ''}")
