"""LLM work as files: OpenAI Batch request lines in, batch output lines back, joined by custom_id.

This module owns the file formats only (no HTTP), so the stages that ask an LLM something
(rating, tagging, the rewrite queue) never build request JSON or parse responses themselves,
and the same files go to `curate llm run`, `vllm run-batch` or a hosted batch API unchanged.

Request line (OpenAI Batch input):
    {"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {"model", "messages", ...}}
Response line (OpenAI Batch output, also what `vllm run-batch` and `curate llm run` write):
    {"id": "...", "custom_id": "...", "response": {"status_code": 200, "request_id": "...", "body": {...}},
     "error": null | {"code": "...", "message": "..."}}
Output lines come in no guaranteed order, so answers are always joined by custom_id.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from curate.atomic import temp_path
from curate.errors import CurateError
from curate.logs import log

CHAT_URL = "/v1/chat/completions"
# The OpenAI Batch API's per-file limits; vllm run-batch has none, but keeping them means a request
# folder can be uploaded to a hosted batch API as it is.
MAX_LINES = 50_000
MAX_BYTES = 200 * 2**20


class BatchFileError(CurateError, ValueError):
    """A request or response file that cannot be read; the message names the file and line."""


def request_id(doc_id: str, chunk: int, task: str, prompt_version: str, model: str, params: dict) -> str:
    """A stable custom_id: the same document chunk, task, prompt version, model and parameters
    always give the same id, so re-exporting never duplicates work and answers join back.

    sha256 (first 32 hex digits) of canonical JSON (sorted keys, no spaces): reproducible in any
    language, and 128 bits make collisions irrelevant at any corpus size.
    """
    parts = [str(doc_id), int(chunk), str(task), str(prompt_version), str(model), params or {}]
    try:
        canonical = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
    except TypeError as e:
        raise ValueError(f"request_id: params must be JSON-serialisable: {e}") from None
    return hashlib.sha256(canonical).hexdigest()[:32]


def make_request(custom_id: str, messages: list[dict], model: str, **params) -> dict:
    """One batch request line for the chat-completions endpoint.

    params go into the body as they are: max_tokens, temperature, seed,
    response_format={"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": True}}, ...
    """
    if not custom_id or not isinstance(custom_id, str):
        raise ValueError("make_request: custom_id must be a non-empty string")
    if not messages:
        raise ValueError(f"make_request {custom_id}: messages is empty")
    return {"custom_id": custom_id, "method": "POST", "url": CHAT_URL,
            "body": {"model": model, "messages": messages, **params}}


def json_schema_format(name: str, schema: dict, strict: bool = True) -> dict:
    """The response_format that asks for JSON matching `schema` (OpenAI structured outputs;
    vLLM, llama.cpp and xllamacpp accept the same shape)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}


def _check_request(req: dict) -> None:
    cid = req.get("custom_id") if isinstance(req, dict) else None
    if not isinstance(cid, str) or not cid:
        raise ValueError("request has no custom_id (build it with make_request)")
    if not isinstance(req.get("body"), dict):
        raise ValueError(f"request {cid}: body must be an object")


class RequestWriter:
    """Writes request lines into `out_dir/prefix-00000.jsonl`, `-00001`, ..., starting a new file
    before one would pass max_lines or max_bytes.

    Each file is written under a temporary name and renamed when full or on close(), so a reader
    (or an upload) never sees half a file. A custom_id already written by this writer is skipped
    (counted in `.duplicates`). Files of an earlier export with the same prefix and a higher number
    than this one wrote are removed on close, so the folder holds exactly this export.
    """

    def __init__(self, out_dir: Path | str, prefix: str = "requests", max_lines: int = MAX_LINES,
                 max_bytes: int = MAX_BYTES):
        if max_lines < 1 or max_bytes < 1:
            raise ValueError("RequestWriter: max_lines and max_bytes must be positive")
        self.out_dir = Path(out_dir)
        self.prefix = prefix
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.paths: list[Path] = []
        self.written = 0
        self.duplicates = 0
        self._seen: set[str] = set()
        self._file = None
        self._tmp: Path | None = None
        self._lines = 0
        self._bytes = 0
        self._closed = False
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def _name(self, index: int) -> Path:
        return self.out_dir / f"{self.prefix}-{index:05d}.jsonl"

    def _finish_file(self) -> None:
        if self._file is None:
            return
        self._file.close()
        final = self._name(len(self.paths))
        os.replace(self._tmp, final)
        self.paths.append(final)
        self._file = None
        self._tmp = None

    def write(self, request: dict) -> bool:
        """Add one request; False if its custom_id was already written (skipped)."""
        if self._closed:
            raise ValueError("RequestWriter: write after close")
        _check_request(request)
        cid = request["custom_id"]
        if cid in self._seen:
            self.duplicates += 1
            return False
        line = orjson.dumps(request) + b"\n"
        if len(line) > self.max_bytes:
            raise ValueError(f"request {cid} is {len(line):,} bytes, more than the file limit {self.max_bytes:,}")
        if self._file is not None and (self._lines >= self.max_lines or self._bytes + len(line) > self.max_bytes):
            self._finish_file()
        if self._file is None:
            self._tmp = temp_path(self._name(len(self.paths)))
            self._file = open(self._tmp, "wb")
            self._lines = self._bytes = 0
        self._file.write(line)
        self._lines += 1
        self._bytes += len(line)
        self._seen.add(cid)
        self.written += 1
        return True

    def close(self) -> list[Path]:
        """Finish the last file and return every file written, in order."""
        if not self._closed:
            self._finish_file()
            self._closed = True
            pattern = re.compile(re.escape(self.prefix) + r"-(\d{5,})\.jsonl")
            for stale in self.out_dir.glob(f"{self.prefix}-*.jsonl"):
                m = pattern.fullmatch(stale.name)
                if m and int(m.group(1)) >= len(self.paths):
                    stale.unlink()
        return list(self.paths)

    def abort(self) -> None:
        """Drop the file in progress (after an error); finished files stay."""
        if self._file is not None:
            self._file.close()
            self._tmp.unlink(missing_ok=True)
            self._file = None
        self._closed = True

    def __enter__(self) -> RequestWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def expand_paths(paths: Path | str | Iterable[Path | str]) -> list[Path]:
    """Files as given; a folder stands for its *.jsonl files in name order."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.glob("*.jsonl") if not q.name.startswith(".")))
        elif p.exists():
            out.append(p)
        else:
            raise BatchFileError(f"{p}: no such file or folder")
    return out


def _iter_lines(path: Path, tolerate_torn_tail: bool) -> Iterator[tuple[int, dict]]:
    """(line number, parsed object) per non-empty line.

    A last line without its newline that does not parse is what a killed writer leaves behind;
    with tolerate_torn_tail it is skipped with a warning (its request was never answered on disk).
    """
    with open(path, "rb") as f:
        data_iter = iter(f)
        lineno = 0
        for raw in data_iter:
            lineno += 1
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                if tolerate_torn_tail and not raw.endswith(b"\n"):
                    log.warning("{}:{}: incomplete last line (an interrupted write), ignored", path, lineno)
                    return
                raise BatchFileError(f"{path}:{lineno}: not a JSON line ({e})") from None
            if not isinstance(obj, dict):
                raise BatchFileError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, obj


def read_requests(paths) -> Iterator[dict]:
    """Every request line of the given files (folders: their *.jsonl), in file order."""
    for path in expand_paths(paths):
        for lineno, obj in _iter_lines(path, tolerate_torn_tail=False):
            try:
                _check_request(obj)
            except ValueError as e:
                raise BatchFileError(f"{path}:{lineno}: {e}") from None
            yield obj


@dataclass
class Answer:
    """One response line, flattened. `error` is set when the request failed (HTTP status not
    2xx, or an error object); then text may be None."""

    custom_id: str
    text: str | None = None
    finish_reason: str | None = None
    usage: dict = field(default_factory=dict)
    error: str | None = None
    status_code: int | None = None
    model: str | None = None
    raw: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None

    def json(self):
        """The answer text parsed as JSON (for response_format json_schema requests); ValueError if it is not."""
        if self.text is None:
            raise ValueError(f"{self.custom_id}: no answer text ({self.error or 'empty'})")
        try:
            return orjson.loads(self.text)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"{self.custom_id}: answer is not JSON ({e}): {self.text[:80]!r}") from None


def parse_response(line: dict) -> Answer:
    """One batch output line -> Answer; tolerant of the small differences between providers."""
    cid = line.get("custom_id")
    if not isinstance(cid, str) or not cid:
        raise ValueError("response line has no custom_id")
    resp = line.get("response") or {}
    status = resp.get("status_code")
    body = resp.get("body") or {}
    if not isinstance(body, dict):  # some servers return a plain-text error body
        body = {"error": {"message": str(body)}}
    err = line.get("error")
    error = None
    if err:
        error = (f"{err.get('code')}: {err.get('message')}" if isinstance(err, dict) else str(err)).strip(": ")
    elif status is not None and not 200 <= int(status) < 300:
        b_err = body.get("error")
        msg = b_err.get("message") if isinstance(b_err, dict) else b_err
        error = f"HTTP {status}" + (f": {msg}" if msg else "")
    text = finish = None
    choices = body.get("choices") or []
    if choices and isinstance(choices[0], dict):
        msg = choices[0].get("message") or {}
        text = msg.get("content") if isinstance(msg, dict) else None
        finish = choices[0].get("finish_reason")
    elif error is None:
        error = "response has no choices"
    return Answer(custom_id=cid, text=text, finish_reason=finish, usage=body.get("usage") or {},
                  error=error, status_code=status, model=body.get("model"), raw=line)


def response_line(custom_id: str, status_code: int | None, body: dict | None, error: dict | None = None,
                  request_id: str | None = None) -> dict:
    """A batch output line in the OpenAI format (what `curate llm run` writes)."""
    resp = None if status_code is None else {"status_code": status_code, "request_id": request_id or "", "body": body}
    return {"id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": resp, "error": error}


def iter_responses(paths) -> Iterator[Answer]:
    """Every response line as an Answer, streaming, in file order (which is not request order)."""
    for path in expand_paths(paths):
        for lineno, obj in _iter_lines(path, tolerate_torn_tail=True):
            try:
                yield parse_response(obj)
            except (ValueError, TypeError, AttributeError) as e:
                raise BatchFileError(f"{path}:{lineno}: {e}") from None


class Responses(dict):
    """custom_id -> Answer, with what did not join cleanly:
    `duplicates` (later lines for an id already read; the first is kept) and
    `unknown` (ids that match no request, when the known ids were given; not in the dict)."""

    def __init__(self):
        super().__init__()
        self.duplicates = 0
        self.unknown: list[str] = []

    def missing(self, known_ids: Iterable[str]) -> list[str]:
        """Known request ids with no answer."""
        return [cid for cid in known_ids if cid not in self]


def read_responses(paths, known_ids: Iterable[str] | None = None) -> Responses:
    """Join response files by custom_id (never by order). Duplicates: the first line is kept and
    the rest counted. With known_ids (e.g. {r["custom_id"] for r in read_requests(...)}), answers
    for no known request are left out and listed in `.unknown`, with a warning."""
    known = set(known_ids) if known_ids is not None else None
    out = Responses()
    for ans in iter_responses(paths):
        if known is not None and ans.custom_id not in known:
            out.unknown.append(ans.custom_id)
        elif ans.custom_id in out:
            out.duplicates += 1
        else:
            out[ans.custom_id] = ans
    if out.unknown:
        log.warning("{} response(s) match no request, ignored (first: {})", len(out.unknown), out.unknown[0])
    if out.duplicates:
        log.warning("{} duplicate response(s) ignored (the first answer per custom_id is kept)", out.duplicates)
    return out
