"""`curate rewrite-queue export|ingest|styles`: the command line over curate.rewrite."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

app = typer.Typer(
    help="Send the salvageable part of a crawl to LLM rewriting (batch request files) and take the rewrites back.",
    no_args_is_help=True,
)

EXIT_USAGE = 2


def _fail(msg: str, code: int = EXIT_USAGE) -> typer.Exit:
    from curate.report import console

    console.print(f"[bold red]error:[/bold red] {msg}", highlight=False)
    return typer.Exit(code)


def _errors() -> tuple[type[Exception], ...]:
    from curate.inputs import InputError
    from curate.llm.batch import BatchFileError
    from curate.rewrite.ingest import IngestError
    from curate.rewrite.policy import PolicyError
    from curate.rewrite.queue import QueueError
    from curate.rewrite.scan import ScanError
    from curate.rewrite.styles import StyleError
    from curate.rewrite.tokens import TokenizerError
    from curate.shards import ShardError

    return (InputError, BatchFileError, IngestError, PolicyError, QueueError, ScanError, StyleError, TokenizerError,
            ShardError)


def print_export(m: dict, queue: Path) -> None:
    from curate.report import console

    docs = m["documents"]
    table = Table(title=f"rewrite-queue export: {docs['read']:,} documents read, {docs['queued']:,} queued",
                  title_justify="left")
    table.add_column("policy reason")
    table.add_column("documents", justify="right")
    for reason, n in sorted(docs["by_reason"].items(), key=lambda kv: -kv[1]):
        table.add_row(reason, f"{n:,}")
    console.print(table)
    styles = Table(title="by style", title_justify="left")
    for col in ("style", "documents", "requests", "input tokens", "output tokens (expected / max)", "too short", "oversize"):
        styles.add_column(col, justify="left" if col == "style" else "right")
    for name, c in m["by_style"].items():
        styles.add_row(name, f"{c['documents']:,}", f"{c['requests']:,}", f"{c['input_tokens']:,}",
                       f"{c['output_tokens_expected']:,} / {c['output_tokens_max']:,}", f"{c['too_short']:,}",
                       f"{c['oversize_segment']:,}")
    console.print(styles)
    t, cost = m["tokens"], m["cost"]
    est = "estimated " if t["estimate"] else ""
    console.print(f"{m['requests']:,} requests; {est}input tokens {t['input']:,}, output tokens {t['output_expected']:,} "
                  f"expected (at most {t['output_max']:,}) ({t['method']})", highlight=False)
    console.print(f"estimated cost: {cost['total_expected']:,.2f} {cost['currency']} "
                  f"(at most {cost['total_max']:,.2f}; {cost['input_per_million']:g} / {cost['output_per_million']:g} "
                  f"per million input / output tokens); policy hash {m['policy_hash']}", highlight=False)
    if m.get("band"):
        b = m["band"]
        console.print(f"band: {b['column']} percentiles {b['low']:g}-{b['high']:g} = values "
                      f"{b['values'][0]:.4g} to {b['values'][1]:.4g} over {b['scored_documents']:,} scored documents",
                      highlight=False)
    if m["export"] is None:
        console.print("nothing new to queue: no request files written")
    else:
        console.print(f"queue: {queue}/exports/{m['export']}/ ({len(m['files'])} file(s), manifest.json, index.parquet)")


@app.command("export")
def export_command(
    inputs: list[str] = typer.Argument(..., help="Input shards: files, folders or globs (Parquet, JSONL)."),
    output: Path = typer.Option(..., "-o", "--output", help="The queue folder (created; later exports add to it)."),
    policy: Path = typer.Option(..., "--policy", help="Policy YAML: band, styles/mix/route, budgets, domain caps, model, price."),
    fmt: str = typer.Option("batch", "--format", help="batch (OpenAI Batch request files) or prompts ({custom_id, prompt} JSONL)."),
    requeue: bool = typer.Option(False, "--requeue", help="Queue documents again even if an earlier export queued them."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="A `tokenizers` JSON file for exact token counts "
                                             "(default: a per-language characters-per-token estimate)."),
    model: Optional[str] = typer.Option(None, "--model", help="Override the policy's model name."),
    price_in: Optional[float] = typer.Option(None, "--price-in", min=0, help="Override the price per million input tokens."),
    price_out: Optional[float] = typer.Option(None, "--price-out", min=0, help="Override the price per million output tokens."),
    max_lines: int = typer.Option(50_000, "--max-lines", min=1, help="Most requests per file (OpenAI Batch: 50,000)."),
    max_mb: int = typer.Option(200, "--max-mb", min=1, help="Most megabytes per file (OpenAI Batch: 200)."),
    workers: int = typer.Option(1, "-w", "--workers", min=1, help="Parallel local processes (the result is the same)."),
    as_json: bool = typer.Option(False, "--json", help="Also print the manifest as JSON on stdout."),
):
    """Choose documents by a policy, cut them into chunks within each style's input budget, and write
    request files plus a manifest (counts by style and policy reason, token and cost estimates).

    Examples:

      curate rewrite-queue export rated/ -o queue/ --policy docs/examples/rewire.yaml

      curate llm run queue/exports/0001/ -o answers.jsonl --endpoint http://127.0.0.1:8080
    """
    import orjson

    from curate.rewrite.export import FORMATS, export_queue
    from curate.rewrite.policy import load_policy

    if fmt not in FORMATS:
        raise _fail(f"--format must be {' or '.join(FORMATS)}, not {fmt!r}")
    if "-" in inputs:
        raise _fail("rewrite-queue export reads its inputs twice (percentiles first): name files, not - for stdin")
    try:
        pol, styles = load_policy(policy)
        updates = {}
        if model:
            updates["model"] = model
        if price_in is not None or price_out is not None:
            updates["price"] = pol.price.model_copy(update={k: v for k, v in (("input_per_million", price_in),
                                                                              ("output_per_million", price_out)) if v is not None})
        if updates:
            pol = pol.model_copy(update=updates)
        result = export_queue(inputs, output, pol, styles, fmt=fmt, requeue=requeue, tokenizer=tokenizer,
                              max_lines=max_lines, max_bytes=max_mb * 2**20, policy_file=str(policy),
                              workers=workers)
    except _errors() as e:
        raise _fail(str(e)) from None
    print_export(result.manifest, output)
    if as_json:
        typer.echo(orjson.dumps(result.manifest, option=orjson.OPT_INDENT_2).decode())


@app.command("ingest")
def ingest_command(
    responses: list[Path] = typer.Argument(..., help="Response files (OpenAI Batch output lines) or folders of them."),
    queue: Path = typer.Option(..., "--queue", help="The queue folder the requests were exported to."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder: rewrites.* and rejected/rewrites.*."),
    fmt: str = typer.Option("parquet", "--format", help="Output shard format: parquet|jsonl|jsonl.gz|jsonl.zst."),
    refusal_patterns: Optional[Path] = typer.Option(None, "--refusal-patterns", help="File of regular expressions, one "
                                                    "per line, matched at the start of answers (replaces the built-in list)."),
):
    """Join answers to the queue by custom_id, reassemble each document's chunks in order, strip the
    answer prefix and write the rewrites as documents; every bad answer goes to rejected/ with its
    reason and raw response.

    Example:  curate rewrite-queue ingest answers.jsonl --queue queue/ -o rewrites/
    """
    from curate.report import console
    from curate.rewrite.ingest import ingest_responses
    from curate.shards import FORMATS

    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    patterns = None
    if refusal_patterns is not None:
        if not refusal_patterns.is_file():
            raise _fail(f"refusal pattern file {refusal_patterns} does not exist")
        patterns = [ln.strip() for ln in refusal_patterns.read_text(encoding="utf-8").splitlines()
                    if ln.strip() and not ln.lstrip().startswith("#")]
    try:
        result = ingest_responses(responses, queue, output, fmt=fmt, refusals=patterns)
    except _errors() as e:
        raise _fail(str(e)) from None
    table = Table(title=f"rewrite-queue ingest: {result.responses:,} answers read, "
                        f"{result.kept_documents:,} rewritten documents", title_justify="left")
    table.add_column("rejected answers: reason")
    table.add_column("answers", justify="right")
    for reason, n in sorted(result.rejected.items(), key=lambda kv: -kv[1]):
        table.add_row(reason, f"{n:,}")
    console.print(table)
    console.print(f"documents held back (a chunk missing or rejected): {result.held_back_documents:,}; "
                  f"requests without an answer: {result.unanswered_requests:,} "
                  f"({result.unanswered_documents:,} documents)")
    console.print(f"output: {', '.join(str(p) for p in result.files) or '(nothing written)'}")


@app.command("styles")
def styles_command():
    """List the built-in rewrite styles with their limits and the method each follows."""
    from curate.report import console
    from curate.rewrite.styles import builtin_styles, load_style

    table = Table(title="rewrite styles (configs/prompts/rewrite/)", title_justify="left")
    for col in ("style", "in", "out", "min", "parser", "prefix", "method"):
        table.add_column(col, justify="right" if col in ("in", "out", "min") else "left")
    try:
        for name in builtin_styles():
            s = load_style(name)
            answer = f"JSON field {s.answer_field}" if s.parser == "json" else s.answer_prefix
            table.add_row(s.name, str(s.input_tokens), str(s.output_tokens), str(s.min_segment_tokens), s.parser,
                          answer, s.method.split("): ")[0] + ")" if "): " in s.method else s.method)
    except _errors() as e:
        raise _fail(str(e)) from None
    console.print(table)
