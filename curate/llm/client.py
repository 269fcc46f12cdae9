"""Send batch request files to any OpenAI-compatible chat endpoint (`curate llm run`).

For users with an endpoint of their own (vLLM, llama.cpp, Ollama, a hosted API, or
`curate llm serve`). Users of `vllm run-batch` or a hosted batch API skip this: the files are
the same.

- bounded concurrency: N workers share one httpx connection pool;
- retries with exponential backoff and full jitter on 429, 5xx, timeouts and connection errors,
  waiting at least what `Retry-After` asks;
- resume by custom_id: each answer is appended and flushed as one line, so after a kill
  (even SIGKILL) a rerun sends only the requests with no answer on disk;
- requests that fail for good (a 4xx other than 429, or retries exhausted) go to a dead-letter
  file in the batch error-line format; a rerun tries them again;
- the API key comes only from an environment variable and is never written anywhere
  (any echo of it in a response is scrubbed before writing).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx
import orjson

from curate.llm.batch import expand_paths, read_requests, response_line

log = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "CURATE_LLM_API_KEY"
RETRY_STATUS = {408, 409, 425, 429}  # plus every 5xx
MAX_RETRY_AFTER = 600.0


class LLMRunError(Exception):
    """A problem that stops the whole run (configuration, authentication); the message is one line."""


@dataclass
class RunSummary:
    total: int = 0  # distinct requests in the request files
    skipped: int = 0  # already answered on disk before this run
    done: int = 0  # answered in this run
    failed: int = 0  # sent to the dead-letter file in this run
    retried: int = 0  # retry attempts in this run
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    seconds: float = 0.0
    status: str = "running"  # complete | incomplete (some failed) | aborted
    out_path: str = ""
    dead_letter_path: str = ""
    manifest_path: str = ""
    failure_kinds: dict = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return self.total - self.skipped

    @property
    def rate(self) -> float:
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0


def companion_paths(out_path: Path) -> tuple[Path, Path]:
    """The dead-letter file and the manifest beside an output file: out.jsonl -> out.dead.jsonl, out.manifest.json."""
    stem = out_path.name[: -len(".jsonl")] if out_path.name.endswith(".jsonl") else out_path.name
    return out_path.with_name(stem + ".dead.jsonl"), out_path.with_name(stem + ".manifest.json")


def chat_url(endpoint: str, path: str) -> str:
    """Join an endpoint and a request's url. The endpoint is a base URL as the openai client takes it
    (`http://host:8000/v1`) or the server root (`http://host:8000`); request urls start with /v1/."""
    base = endpoint.rstrip("/")
    if base.endswith("/v1") and path.startswith("/v1/"):
        return base + path[3:]
    return base + path


def safe_url(url: str) -> str:
    """The URL without any user:password part, for logs and the manifest."""
    u = httpx.URL(url)
    return str(u.copy_with(username=None, password=None)) if u.userinfo else url


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """Full-jitter exponential backoff (uniform in [0, min(cap, base*2^(attempt-1))]) so many clients
    that failed together do not retry together; never less than the server's Retry-After."""
    delay = random.uniform(0, min(cap, base * 2 ** (attempt - 1)))
    if retry_after is not None:
        delay = min(retry_after, MAX_RETRY_AFTER) + random.uniform(0, min(1.0, 0.1 * retry_after + base))
    return delay


def scan_answered(out_path: Path) -> tuple[set[str], dict[str, int]]:
    """custom_ids already answered in the output file, and the token usage recorded there.

    A torn last line (a kill during a write) is cut off, so the next append starts on a fresh line;
    its request counts as unanswered and is sent again.
    """
    done: set[str] = set()
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    if not out_path.exists():
        return done, usage
    good_end = 0
    with open(out_path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                break  # torn tail
            good_end += len(raw)
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
                if "response" not in obj and "error" not in obj:  # e.g. -o naming a request file
                    raise KeyError("response")
                done.add(obj["custom_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                raise LLMRunError(f"{out_path}:{lineno}: not a response line; is -o the right file?") from None
            u = (((obj.get("response") or {}).get("body") or {}).get("usage")) or {}
            for k in usage:
                usage[k] += int(u.get(k) or 0)
    if good_end < out_path.stat().st_size:
        log.warning("%s: cutting an incomplete last line left by an interrupted run", out_path)
        with open(out_path, "r+b") as f:
            f.truncate(good_end)
    return done, usage


class _Run:
    def __init__(self, endpoint: str, out_path: Path, model: str | None, concurrency: int, api_key_env: str,
                 timeout: float, max_retries: int, backoff_base: float, backoff_max: float,
                 on_progress: Callable[[RunSummary], None] | None):
        self.endpoint = endpoint
        self.model = model
        self.concurrency = concurrency
        self.api_key_env = api_key_env
        self.key = os.environ.get(api_key_env) or None
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.on_progress = on_progress
        self.out_path = out_path
        self.dead_path, self.manifest_path = companion_paths(out_path)
        self.summary = RunSummary(out_path=str(out_path), dead_letter_path=str(self.dead_path),
                                  manifest_path=str(self.manifest_path))
        self.abort: LLMRunError | None = None
        self._key_bytes = self.key.encode() if self.key else None

    # -- writing (one line per write+flush: a kill leaves whole lines, at most a torn last one)
    def _write(self, f, obj: dict) -> None:
        data = orjson.dumps(obj)
        if self._key_bytes and self._key_bytes in data:
            data = data.replace(self._key_bytes, b"[redacted]")
        f.write(data + b"\n")
        f.flush()

    def _scrub(self, text: str) -> str:
        return text.replace(self.key, "[redacted]") if self.key else text

    def _fail(self, req: dict, code: str, message: str, status: int | None = None, body=None) -> None:
        s = self.summary
        s.failed += 1
        s.failure_kinds[code] = s.failure_kinds.get(code, 0) + 1
        line = response_line(req["custom_id"], status, body, error={"code": code, "message": self._scrub(message)})
        self._write(self.dead_f, line)

    def _auth_error(self, status: int) -> LLMRunError:
        where = safe_url(self.endpoint)
        if self.key is None:
            return LLMRunError(f"{where} answered HTTP {status}: it needs an API key; set the environment variable "
                               f"{self.api_key_env} (or name another variable with --api-key-env)")
        return LLMRunError(f"{where} answered HTTP {status}: it rejected the API key in ${self.api_key_env}")

    async def _post(self, transport: httpx.AsyncHTTPTransport, url: str, content: bytes) -> httpx.Response:
        request = httpx.Request("POST", url, content=content, headers=self.headers,
                                extensions={"timeout": self.timeouts})
        response = await transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def _send(self, transport: httpx.AsyncHTTPTransport, req: dict) -> None:
        body = req["body"] if self.model is None else {**req["body"], "model": self.model}
        url = chat_url(self.endpoint, req.get("url") or "/v1/chat/completions")
        content = orjson.dumps(body)
        attempt = 0
        s = self.summary
        while True:
            retry_after = None
            try:
                r = await self._post(transport, url, content)
            except httpx.TimeoutException:
                kind, message = "timeout", f"no answer within {self.timeout:g} s"
            except httpx.TransportError as e:
                kind, message = "connection", f"{type(e).__name__}: {e}"
            else:
                status = r.status_code
                if 200 <= status < 300:
                    try:
                        answer = orjson.loads(r.content)
                    except orjson.JSONDecodeError:
                        kind, message = "invalid_json", f"HTTP {status} with a body that is not JSON"
                    else:
                        self._write(self.out_f, response_line(req["custom_id"], status, answer,
                                                              request_id=r.headers.get("x-request-id")))
                        s.done += 1
                        u = (answer.get("usage") or {}) if isinstance(answer, dict) else {}
                        s.prompt_tokens += int(u.get("prompt_tokens") or 0)
                        s.completion_tokens += int(u.get("completion_tokens") or 0)
                        s.total_tokens += int(u.get("total_tokens") or 0)
                        return
                elif status in (401, 403):
                    if self.abort is None:
                        self.abort = self._auth_error(status)
                    return
                else:
                    kind, message = f"http_{status}", f"HTTP {status}: {r.text[:500]}"
                    try:
                        err_body = r.json()
                    except ValueError:
                        err_body = {"error": {"message": r.text[:2000]}}
                    if not (status >= 500 or status in RETRY_STATUS):
                        self._fail(req, kind, message, status, err_body)  # permanent: retrying cannot help
                        return
                    retry_after = retry_after_seconds(r.headers.get("retry-after"))
            attempt += 1
            if attempt > self.max_retries:
                self._fail(req, kind, f"gave up after {attempt} attempts; last: {message}")
                return
            s.retried += 1
            await asyncio.sleep(backoff_delay(attempt, self.backoff_base, self.backoff_max, retry_after))
            if self.abort is not None:
                return

    async def _progress_loop(self, start: float) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.summary.seconds = time.monotonic() - start
            self.on_progress(self.summary)

    async def run(self, request_paths: list[Path]) -> RunSummary:
        s = self.summary
        answered, prior_usage = scan_answered(self.out_path)
        # pass 1: count what is to do (ids only; a request file can hold millions of lines)
        seen: set[str] = set()
        for req in read_requests(request_paths):
            seen.add(req["custom_id"])
        s.total = len(seen)
        s.skipped = len(seen & answered)
        del seen
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.concurrency * 4)
        self.headers = {"Content-Type": "application/json", "User-Agent": "curate-llm-run"}
        if self.key:
            self.headers["Authorization"] = f"Bearer {self.key}"
        self.timeouts = httpx.Timeout(self.timeout).as_dict()
        # Each worker has its own httpx transport with one keep-alive connection, and sends through it
        # directly: httpx's shared pool scans all its connections per request, and the AsyncClient layer
        # (cookies, auth flows, redirects, hooks, none of which an API call needs) doubles the CPU per
        # request. Measured at 64 workers: 1.1 -> 0.6 ms of CPU per request (scripts/bench_llm_client.py).
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        tls = httpx.create_ssl_context()  # built once: loading the CA bundle costs ~0.1 s each time

        async def worker():
            async with httpx.AsyncHTTPTransport(limits=limits, verify=tls) as transport:
                while True:
                    req = await queue.get()
                    if req is None:
                        return
                    if self.abort is None:
                        await self._send(transport, req)

        progress = None
        # the dead-letter file is rewritten each run: its requests are retried here, so their fate is new
        with open(self.out_path, "ab") as self.out_f, open(self.dead_path, "wb") as self.dead_f:
            workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
            if self.on_progress:
                progress = asyncio.create_task(self._progress_loop(start))
            try:
                queued = set(answered)
                for req in read_requests(request_paths):
                    if self.abort is not None:
                        break
                    cid = req["custom_id"]
                    if cid in queued:
                        continue  # answered on disk, or a duplicate line: never sent twice
                    queued.add(cid)
                    await queue.put(req)
            finally:
                for _ in workers:
                    await queue.put(None)
                results = await asyncio.gather(*workers, return_exceptions=True)
                if progress:
                    progress.cancel()
            for r in results:
                if isinstance(r, BaseException):
                    raise r
        s.seconds = time.monotonic() - start
        s.status = "aborted" if self.abort else ("incomplete" if s.failed else "complete")
        self._write_manifest(request_paths, prior_usage)
        if self.on_progress:
            self.on_progress(s)
        if self.abort is not None:
            raise self.abort
        return s

    def _write_manifest(self, request_paths: list[Path], prior_usage: dict) -> None:
        s = self.summary
        this_run = {k: getattr(s, k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        manifest = {
            "endpoint": safe_url(self.endpoint),
            "model": self.model,
            "requests": [str(p) for p in request_paths],
            "responses": str(self.out_path),
            "dead_letter": str(self.dead_path),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "concurrency": self.concurrency,
            "summary": {k: v for k, v in asdict(s).items() if k not in ("out_path", "dead_letter_path", "manifest_path")},
            "usage_this_run": this_run,
            # all answers in the output file, across resumed runs
            "usage_total": {k: prior_usage[k] + this_run[k] for k in this_run},
        }
        tmp = self.manifest_path.with_name(f".{self.manifest_path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.manifest_path)


def run_requests(request_paths, out_path: Path | str, endpoint: str, model: str | None = None,
                 concurrency: int = 16, api_key_env: str = DEFAULT_KEY_ENV, timeout: float = 120.0,
                 max_retries: int = 8, backoff_base: float = 0.5, backoff_max: float = 60.0,
                 on_progress: Callable[[RunSummary], None] | None = None) -> RunSummary:
    """Send every request in request_paths (files, or folders of *.jsonl) with no answer yet in
    out_path; append answers to out_path. Returns the summary; raises LLMRunError for a problem
    that stops the run (e.g. the endpoint needs an API key that is not set)."""
    if concurrency < 1:
        raise LLMRunError("--concurrency must be at least 1")
    if not endpoint.startswith(("http://", "https://")):
        raise LLMRunError(f"endpoint {endpoint!r} must be an http:// or https:// URL")
    paths = expand_paths(request_paths)
    if not paths:
        raise LLMRunError("no request files given (folders are searched for *.jsonl)")
    # responses inside a request folder would be read as requests by the next (resuming) run
    given = [Path(p) for p in ([request_paths] if isinstance(request_paths, (str, Path)) else request_paths)]
    folders = {p.resolve() for p in given if p.is_dir()}
    out = Path(out_path).resolve()
    if out in {p.resolve() for p in paths} or (out.parent in folders and out.name.endswith(".jsonl")):
        raise LLMRunError(f"{out_path} is among the request files; write responses outside the request folder")
    run = _Run(endpoint, Path(out_path), model, concurrency, api_key_env, timeout, max_retries, backoff_base,
               backoff_max, on_progress)
    return asyncio.run(run.run(paths))
