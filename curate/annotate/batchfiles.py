"""The LLM batch file formats the annotation loop uses, from curate.llm.batch.

Until the curate.llm package is present this module carries a minimal stand-in with the same
interface (OpenAI Batch request lines in, output lines back, joined by custom_id), so export and
import work and are tested on their own; with curate.llm present, its implementation is used.
"""

from __future__ import annotations

try:  # pragma: no cover - which branch runs depends on whether curate.llm is installed
    from curate.llm.batch import RequestWriter, json_schema_format, make_request, read_responses, request_id
except ImportError:  # pragma: no cover
    import hashlib
    import os
    from dataclasses import dataclass, field
    from pathlib import Path

    import orjson

    def request_id(doc_id: str, chunk: int, task: str, prompt_version: str, model: str, params: dict) -> str:
        parts = [str(doc_id), int(chunk), str(task), str(prompt_version), str(model), params or {}]
        return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]

    def make_request(custom_id: str, messages: list[dict], model: str, **params) -> dict:
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": model, "messages": messages, **params}}

    def json_schema_format(name: str, schema: dict, strict: bool = True) -> dict:
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}

    class RequestWriter:
        def __init__(self, out_dir, prefix: str = "requests", max_lines: int = 50_000, max_bytes: int = 200 * 2**20):
            self.out_dir, self.prefix, self.max_lines = Path(out_dir), prefix, max_lines
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.paths: list[Path] = []
            self.written = self.duplicates = 0
            self._seen: set[str] = set()
            self._file = None
            self._lines = 0

        def write(self, request: dict) -> bool:
            if request["custom_id"] in self._seen:
                self.duplicates += 1
                return False
            if self._file is not None and self._lines >= self.max_lines:
                self._finish()
            if self._file is None:
                self._tmp = self.out_dir / f".{self.prefix}-{len(self.paths):05d}.jsonl.tmp"
                self._file, self._lines = open(self._tmp, "wb"), 0
            self._file.write(orjson.dumps(request) + b"\n")
            self._seen.add(request["custom_id"])
            self._lines += 1
            self.written += 1
            return True

        def _finish(self) -> None:
            self._file.close()
            final = self.out_dir / f"{self.prefix}-{len(self.paths):05d}.jsonl"
            os.replace(self._tmp, final)
            self.paths.append(final)
            self._file = None

        def close(self) -> list[Path]:
            if self._file is not None:
                self._finish()
            return list(self.paths)

    @dataclass
    class Answer:
        custom_id: str
        text: str | None = None
        finish_reason: str | None = None
        usage: dict = field(default_factory=dict)
        error: str | None = None
        status_code: int | None = None
        model: str | None = None
        raw: dict = field(default_factory=dict)

    class Responses(dict):
        duplicates = 0
        unknown: list = []

    def read_responses(paths, known_ids=None):
        out = Responses()
        out.unknown = []
        files = []
        for p in map(Path, [paths] if isinstance(paths, (str, Path)) else paths):
            files += sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
        for path in files:
            for raw in open(path, "rb"):
                if not raw.strip():
                    continue
                line = orjson.loads(raw)
                resp = line.get("response") or {}
                body = resp.get("body") or {}
                status = resp.get("status_code")
                error = None
                if line.get("error"):
                    error = str(line["error"])
                elif status is not None and not 200 <= int(status) < 300:
                    error = f"HTTP {status}"
                choices = body.get("choices") or [{}]
                msg = choices[0].get("message") or {}
                ans = Answer(line["custom_id"], msg.get("content"), choices[0].get("finish_reason"),
                             body.get("usage") or {}, error, status, body.get("model"), line)
                if known_ids is not None and ans.custom_id not in known_ids:
                    out.unknown.append(ans.custom_id)
                elif ans.custom_id in out:
                    out.duplicates += 1
                else:
                    out[ans.custom_id] = ans
        return out

__all__ = ["RequestWriter", "json_schema_format", "make_request", "read_responses", "request_id"]
