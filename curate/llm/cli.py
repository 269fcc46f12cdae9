"""`curate llm ...`: a thin command layer over curate.llm.client and curate.llm.serve.

Heavy imports (httpx, xllamacpp) happen inside the commands, so `curate --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

EXIT_USAGE = 2
EXIT_FAILED = 1

app = typer.Typer(
    help=(
        "Send LLM batch request files to an OpenAI-compatible endpoint, or serve the embedded local model.\n\n"
        "Examples:\n\n"
        "  curate llm serve --port 8080 &\n\n"
        "  curate llm run requests/ -o responses.jsonl --endpoint http://127.0.0.1:8080/v1 --concurrency 4\n\n"
        "  CURATE_LLM_API_KEY=... curate llm run requests/*.jsonl -o out.jsonl --endpoint https://api.example.com/v1 "
        "--model NAME"
    ),
    no_args_is_help=True,
)


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _fail(msg: str, code: int = EXIT_USAGE) -> typer.Exit:
    _console().print(f"[bold red]error:[/bold red] {msg}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _progress_line(s) -> str:
    finished = s.done + s.failed
    eta = ""
    if s.rate > 0 and s.pending > finished:
        left = int((s.pending - finished) / s.rate)
        eta = f" · ETA {left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}"
    return (f"done {s.done:,}/{s.pending:,} · failed {s.failed:,} · retried {s.retried:,} · "
            f"tokens {s.total_tokens:,} · {s.rate:,.1f} req/s{eta}")


@app.command("run")
def run(
    requests: List[Path] = typer.Argument(..., help="Request files (OpenAI Batch JSONL) or folders of *.jsonl."),
    output: Path = typer.Option(..., "-o", "--output", help="Response file (appended; rerun to resume)."),
    endpoint: str = typer.Option(..., help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1"),
    model: Optional[str] = typer.Option(None, help="Model name to send (replaces each request's body.model)."),
    concurrency: int = typer.Option(16, "-c", "--concurrency", help="Requests in flight at once."),
    api_key_env: str = typer.Option("CURATE_LLM_API_KEY", help="Environment variable that holds the API key."),
    timeout: float = typer.Option(120.0, help="Seconds to wait for one answer before retrying."),
    max_retries: int = typer.Option(8, help="Retries per request on 429/5xx/timeouts/connection errors."),
    backoff: float = typer.Option(0.5, help="First backoff in seconds (doubles each retry, with jitter)."),
    max_backoff: float = typer.Option(60.0, help="Longest backoff in seconds (Retry-After may ask for more)."),
):
    """Send every request with no answer in OUTPUT yet; rerun after a kill to resume.

    Answers go to OUTPUT (batch output lines, joined later by custom_id), requests that fail for good to OUTPUT.dead.jsonl (retried on the next run), counts and token usage to OUTPUT.manifest.json.

    Exit 0 when everything is answered, 1 if some requests failed, 2 on a usage or configuration error (e.g. a missing API key).
    """
    import sys
    import time

    from curate.llm.batch import BatchFileError
    from curate.llm.client import LLMRunError, run_requests

    console = _console()
    live = None
    on_progress = None
    if console.is_terminal:
        from rich.live import Live
        from rich.text import Text

        live = Live(Text(""), console=console, refresh_per_second=4, transient=True)
        live.start()
        on_progress = lambda s: live.update(Text(_progress_line(s)))  # noqa: E731
    else:  # a log file: one line every 30 s
        last = [time.monotonic()]

        def on_progress(s):
            if time.monotonic() - last[0] >= 30:
                last[0] = time.monotonic()
                print(f"llm run: {_progress_line(s)}", file=sys.stderr, flush=True)
    try:
        s = run_requests(requests, output, endpoint, model=model, concurrency=concurrency, api_key_env=api_key_env,
                         timeout=timeout, max_retries=max_retries, backoff_base=backoff, backoff_max=max_backoff,
                         on_progress=on_progress)
    except (LLMRunError, BatchFileError) as e:
        raise _fail(str(e)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; rerun the same command to resume", 130) from None
    finally:
        if live is not None:
            live.stop()
    print(f"llm run: {s.total:,} requests, {s.skipped:,} already answered, {s.done:,} answered now, "
          f"{s.failed:,} failed, {s.retried:,} retries; tokens {s.prompt_tokens:,} in + {s.completion_tokens:,} out; "
          f"{s.seconds:.1f} s ({s.rate:,.1f} req/s)", file=sys.stderr)
    if s.failed:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.failure_kinds.items()))
        print(f"llm run: {s.failed:,} failed for good ({kinds}): see {s.dead_letter_path}; rerun to retry them",
              file=sys.stderr)
        raise typer.Exit(EXIT_FAILED)


@app.command("serve")
def serve(
    port: int = typer.Option(8080, help="Port on 127.0.0.1."),
    threads: int = typer.Option(2, help="CPU threads for generation (llama.cpp's default was ~3x slower here)."),
    model: str = typer.Option("smollm2-135m", help="Registered model name or a GGUF file path."),
    ctx_size: int = typer.Option(2048, help="Context length in tokens."),
    parallel: int = typer.Option(1, help="Requests decoded at once (slots); the context is split between them."),
):
    """Serve the embedded local model as an OpenAI-compatible endpoint on 127.0.0.1 until killed.

    The default model, SmolLM2-135M-Instruct (Q4_1), is plumbing grade: it follows a JSON schema given as response_format, not free-text instructions. Use it to test export -> run -> import, not as a real annotator.
    """
    from curate.llm.serve import ServeError, serve_forever

    try:
        serve_forever(model=model, port=port, threads=threads, ctx_size=ctx_size, parallel=parallel)
    except ServeError as e:
        raise _fail(str(e)) from None
    except KeyboardInterrupt:
        pass
