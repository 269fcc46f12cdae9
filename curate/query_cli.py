"""Subcommands over stage outputs: select, sample, mix, report, stats, explain (thin: the work is in
curate/select.py, sample.py, mix.py, runstats.py, report_html.py, explain.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import duckdb
import typer

from curate.report import console
from curate.errors import StageError


def _fail(msg: str, code: int = 2) -> typer.Exit:
    msg = str(msg).strip()
    console.print(f"[bold red]error:[/bold red] {msg}", highlight=False)
    return typer.Exit(code)


def _tokens_note(kind: str) -> str:
    return "tokens: n_tokens column" if kind == "n_tokens" else "tokens: estimated from characters (no n_tokens column; run `curate tokens`)"


def register_query_commands(app: typer.Typer) -> None:
    @app.command("select")
    def select_command(
        inputs: list[str] = typer.Argument(..., help="Parquet shards or folders (a stage's output)."),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output folder (kept, rejected/, _manifest/). Optional with --explain."),
        where: Optional[str] = typer.Option(None, "--where", help="DuckDB SQL predicate over the shard columns."),
        keep_top: Optional[str] = typer.Option(None, "--keep-top", help="Keep only the top P% (of those --where selects) by --by, over all shards."),
        by: Optional[str] = typer.Option(None, "--by", help="Score column (or SQL expression) for --keep-top."),
        show_explain: bool = typer.Option(False, "--explain", help="Print docs and tokens each conjunct removes, alone and in order."),
    ):
        """Select documents with a SQL predicate (DuckDB over the shards); the rest go to rejected/ with the reason.

        Examples:

          curate select runs/demo/04-tokens -o runs/demo/05-select --where "language = 'en' AND demo_quality >= 0.5"

          curate select runs/x --where "rating_edu >= 3 AND quality_bucket > 11" --explain

          curate select runs/x -o out/ --where "language = 'en'" --keep-top 10% --by rating_edu
        """
        from rich.table import Table

        from curate.select import explain, parse_percent, prepare, select

        if output is None and not show_explain:
            raise _fail("give -o OUT (or --explain to only count)")
        try:
            percent = parse_percent(keep_top) if keep_top is not None else None
            docs, conjuncts = prepare(inputs, where, by, keep_top)
            if show_explain:
                ex = explain(docs, conjuncts)
                table = Table(title=f"select --explain: {ex.docs:,} documents, {ex.tokens:,} tokens", title_justify="left",
                              caption=_tokens_note(ex.tokens_kind))
                for col in ("conjunct", "removed alone: docs", "tokens", "in order: docs", "tokens", "left: docs", "tokens"):
                    table.add_column(col, justify="left" if col == "conjunct" else "right")
                for r in ex.rows:
                    table.add_row(r.conjunct, f"{r.alone_docs:,}", f"{r.alone_tokens:,}", f"{r.in_order_docs:,}",
                                  f"{r.in_order_tokens:,}", f"{r.remaining_docs:,}", f"{r.remaining_tokens:,}")
                console.print(table)
            if output is None:
                return
            result = select(docs, conjuncts, output, by, percent)
        except (StageError, duckdb.Error, OSError) as e:
            raise _fail(str(e)) from None
        reasons: dict[str, int] = {}
        for c in result.counts.values():
            for k, v in c.reasons.items():
                reasons[k] = reasons.get(k, 0) + v
        line = f"select: {result.docs_in:,} in, {result.kept:,} kept, {result.docs_in - result.kept:,} rejected"
        if reasons:
            line += " (" + ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items())) + ")"
        if result.cutoff is not None:
            c = result.cutoff
            line += f"; top {percent:g}% of {c.eligible:,} = {c.keep:,}" + (f", cut {by} >= {c.last[0]:.6g}" if c.last else "")
        console.print(line, highlight=False)
        console.print(f"output: {output}")

    @app.command("sample")
    def sample_command(
        inputs: list[str] = typer.Argument(..., help="Parquet shards or folders (a stage's output)."),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output folder (drawn documents; the rest in rejected/). Without it: only report."),
        tokens: int = typer.Option(..., "--tokens", help="Token budget of the sample (n_tokens, or the estimate)."),
        by: Optional[str] = typer.Option(None, "--by", help="Score column: draw with probability ∝ exp(score / T) (Gumbel top-k). Default: uniform."),
        temperature: float = typer.Option(1.0, "--temperature", "-t", help="T for --by: 0 = top-k by score, large = uniform."),
        per: Optional[str] = typer.Option(None, "--per", help="Domain column: keep each value's token share (the input's, or --ref's)."),
        ref: Optional[Path] = typer.Option(None, "--ref", help="Reference shares for --per: YAML/JSON mapping value -> share, or Parquet documents."),
        seed: int = typer.Option(0, "--seed", help="Same seed, same sample."),
    ):
        """Draw documents up to a token budget, without replacement: uniform, or by score at a temperature,
        optionally keeping a domain distribution.

        Examples:

          curate sample runs/x -o runs/s --tokens 1000000 --seed 1

          curate sample runs/x -o runs/s --tokens 1000000 --by rating_edu --temperature 0.5 --per topic --ref shares.yaml
        """
        from rich.table import Table

        from curate.sample import sample

        try:
            result = sample(inputs, output, tokens, by, temperature, per, ref, seed)
        except (StageError, duckdb.Error, OSError) as e:
            raise _fail(str(e)) from None
        table = Table(title=f"sample: {result.docs:,} of {result.docs_in:,} documents, {result.tokens:,} of {result.tokens_target:,} tokens",
                      title_justify="left", caption=_tokens_note(result.tokens_kind))
        for col in (per or "domain", "target share", "share", "tokens", "docs", "available tokens"):
            table.add_column(col, justify="left" if col == (per or "domain") else "right")
        for d in result.domains:
            share = d.tokens / result.tokens if result.tokens else 0
            table.add_row(d.value, f"{d.target_share:.2%}", f"{share:.2%}", f"{d.tokens:,}", f"{d.docs:,}",
                          f"{d.available:,}" + (" [yellow](short)[/yellow]" if d.short else ""))
        console.print(table)
        if output is not None:
            console.print(f"output: {output}")

    @app.command("mix")
    def mix_command(
        config: Path = typer.Argument(..., help="The mixture's YAML (see docs/select.md)."),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output folder. Without it: only plan and report."),
    ):
        """Build a training mixture: token targets or shares per input or column value, temperature
        weighting across domains, upsampling capped at max_epochs, optional rehydration of duplicates.
        Writes the mixture, mix.json (what was taken from where, how many times) and a Dolma mixer config.

        Example:  curate mix mix.yaml -o runs/mixture
        """
        from rich.table import Table

        from curate.mix import load_mix, mix

        try:
            result = mix(load_mix(config), output)
        except (StageError, duckdb.Error, OSError) as e:
            raise _fail(str(e)) from None
        table = Table(title=f"mix: {result.tokens:,} of {result.tokens_target:,} target tokens", title_justify="left",
                      caption=_tokens_note(result.tokens_kind))
        for col in ("domain", "target", "taken", "share", "docs", "rows", "copies: docs", "available"):
            table.add_column(col, justify="left" if col == "domain" else "right")
        for d in result.domains:
            share = d.tokens / result.tokens if result.tokens else 0
            copies = ", ".join(f"{k}×{n:,}" for k, n in d.copies.items())
            table.add_row(d.domain, f"{d.target_tokens:,}", f"{d.tokens:,}" + (" [yellow](capped)[/yellow]" if d.short_tokens else ""),
                          f"{share:.2%}", f"{d.docs:,}", f"{d.rows:,}", copies, f"{d.available_tokens:,}")
        console.print(table)
        if output is not None:
            console.print(f"output: {output} (mix.json, dolma/mixer.yaml)")

    @app.command("report")
    def report_command(
        run_dir: Path = typer.Argument(..., help="A run folder (e.g. runs/demo) or one stage's output folder."),
        output: Path = typer.Option(..., "-o", "--output", help="The HTML file to write."),
    ):
        """Write one self-contained HTML report of a run (opens offline): the funnel of documents and tokens,
        reject reasons, distributions, score histograms with thresholds, top domains, examples per rule.

        Example:  curate report runs/demo -o runs/demo/report.html
        """
        from curate.report_html import write_report
        from curate.runstats import compute

        try:
            path = write_report(compute(run_dir), output)
        except (StageError, duckdb.Error, OSError) as e:
            raise _fail(str(e)) from None
        console.print(f"report: {path} ({path.stat().st_size:,} bytes)", highlight=False)

    @app.command("stats")
    def stats_command(
        run_dir: Path = typer.Argument(..., help="A run folder (e.g. runs/demo) or one stage's output folder."),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON on stdout."),
    ):
        """The report's figures as tables (or --json): funnel, reject reasons, distributions, top domains.

        Example:  curate stats runs/demo --json | jq '.stages[] | {name, kept}'
        """
        import sys

        from curate.runstats import compute
        from curate.stats_tables import print_stats

        try:
            fig = compute(run_dir)
        except (StageError, duckdb.Error, OSError) as e:
            raise _fail(str(e)) from None
        if as_json:
            sys.stdout.buffer.write(fig.to_json() + b"\n")
        else:
            print_stats(fig, console)

    @app.command("explain")
    def explain_command(
        run_dir: Path = typer.Argument(..., help="A run folder (e.g. runs/demo)."),
        doc_id: Optional[str] = typer.Argument(None, help="The document's id."),
        url: Optional[str] = typer.Option(None, "--url", help="Find the document by URL instead."),
        as_json: bool = typer.Option(False, "--json", help="Print the story as JSON on stdout."),
    ):
        """Why is this document in (or not in) the output: every stage's decision and measurements,
        where it came from, which rule removed it with what value, which document it duplicated.

        Examples:

          curate explain runs/demo "<urn:uuid:...>"

          curate explain runs/demo --url https://example.com/page
        """
        import sys
        from dataclasses import asdict

        import orjson
        from rich.table import Table

        from curate.explain import explain

        try:
            story = explain(run_dir, doc_id, url)
        except (StageError, duckdb.Error, OSError) as e:
            raise _fail(str(e)) from None
        if as_json:
            sys.stdout.buffer.write(orjson.dumps(asdict(story), option=orjson.OPT_INDENT_2, default=str) + b"\n")
            return
        console.print(f"[bold]{story.id}[/bold]  {story.url or ''}", highlight=False)
        console.print("origin: " + ", ".join(f"{k}={v}" for k, v in story.origin.items()), highlight=False)
        table = Table(title_justify="left", show_lines=True)
        for col in ("stage", "decision", "rule / detail", "measured (new or changed columns)"):
            table.add_column(col)
        for s in story.stages:
            decision = {"kept": "[green]kept[/green]", "rejected": "[red]rejected[/red]"}.get(s.status, f"[dim]{s.status}[/dim]")
            rule = "\n".join(x for x in (s.reason, s.detail) if x)
            measured = "\n".join(f"{k} = {_short(v)}" for k, v in s.added.items())
            table.add_row(s.stage, decision, rule, measured)
        console.print(table)
        if story.excerpt:
            console.print(f"text: {story.excerpt[:300]!r}", highlight=False)


def _short(v) -> str:
    text = repr(v) if isinstance(v, str) else str(v)
    return text if len(text) <= 80 else text[:79] + "…"
