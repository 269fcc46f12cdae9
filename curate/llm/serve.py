"""`curate llm serve`: the embedded local model as an OpenAI-compatible endpoint on 127.0.0.1.

So every LLM step runs on a fresh machine with no GPU and no account: xllamacpp (llama.cpp's
server, prebuilt CPU wheel, in process) serves a GGUF model from the models registry, by default
SmolLM2-135M-Instruct Q4_1 (`smollm2-135m`, installed by `make setup`). xllamacpp's own HTTP
server answers /v1/chat/completions, including response_format json_schema (grammar-constrained).

The default model is plumbing grade: it follows a JSON schema, not free-text instructions.
Use it to test export -> run -> import, not as a real annotator.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass

from curate.stage import StageError

DEFAULT_MODEL = "smollm2-135m"


class ServeError(Exception):
    """The server cannot start (model missing or corrupt, port in use); one line."""


@dataclass
class LocalServer:
    """A running in-process server; `url` is the base URL to give `curate llm run --endpoint`."""

    url: str
    model: str
    threads: int
    load_seconds: float
    _server: object

    def close(self) -> None:
        self._server = None  # xllamacpp stops its loop and frees the model when the Server is dropped


def start_server(model: str = DEFAULT_MODEL, port: int = 8080, threads: int = 2, ctx_size: int = 2048,
                 parallel: int = 1, quiet: bool = True) -> LocalServer:
    """Load the model and serve it on 127.0.0.1:port (0 = any free port) in background threads."""
    from curate.models import resolve_model

    try:
        info, path = resolve_model(model)
    except StageError as e:
        raise ServeError(str(e)) from None
    try:
        import xllamacpp
    except ImportError:
        raise ServeError("xllamacpp is not installed (run `make setup`)") from None
    if threads < 1 or parallel < 1 or ctx_size < 64:
        raise ServeError("--threads and --parallel must be at least 1, --ctx-size at least 64")
    p = xllamacpp.CommonParams()
    p.model.path = str(path)
    p.model_alias = {info.name}  # the "model" answered in responses
    p.hostnames = ["127.0.0.1"]
    p.port = port
    p.n_ctx = ctx_size * parallel  # each slot gets ctx_size
    p.n_parallel = parallel
    # llama.cpp's default thread count was ~3x slower on this 2-core machine: set it explicitly.
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    p.verbosity = -1 if quiet else 3
    t0 = time.monotonic()
    try:
        server = xllamacpp.Server(p)
    except RuntimeError as e:
        raise ServeError(f"could not serve {info.name} on 127.0.0.1:{port} (port in use?): {e}") from None
    return LocalServer(url=server.listening_address.rstrip("/") + "/v1", model=info.name, threads=threads,
                       load_seconds=time.monotonic() - t0, _server=server)


def serve_forever(**kwargs) -> None:
    """Start the server, print where it listens, and serve until SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = start_server(**kwargs)
    print(f"serving {server.model} at {server.url} (threads {server.threads}, loaded in {server.load_seconds:.1f} s); "
          "plumbing grade: use response_format json_schema; Ctrl-C to stop", file=sys.stderr, flush=True)
    stop.wait()
    server.close()
