"""`curate annotate export|import`: the command line over export.py and importer.py."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from curate.inputs import InputError
from curate.shards import ShardError
from curate.stage import StageError

annotate_app = typer.Typer(help="Annotate a sample with an LLM: export request files, import answers as labels.",
                           no_args_is_help=True)


def _fail(e: Exception) -> typer.Exit:
    from curate.report import console

    console.print(f"[bold red]error:[/bold red] {e}", highlight=False)
    return typer.Exit(2)


def _errors():
    from curate.llm.batch import BatchFileError

    return (StageError, InputError, ShardError, BatchFileError, OSError)


@annotate_app.command("export")
def export_command(
    inputs: list[str] = typer.Argument(..., help="Documents to sample from (shards, folders, globs).", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for the request files and the export record."),
    task: str = typer.Option("edu", "--task", help="A shipped task (edu, edu-json, qurating-pairwise, "
                             "qurating-pairwise-json, taxonomy, taxonomy-json) or a task YAML by path."),
    sample: int = typer.Option(1000, "--sample", min=1, help="Documents to sample."),
    by: Optional[str] = typer.Option(None, "--by", help="Stratify by this column (source, language, domain, ...)."),
    criteria: Optional[str] = typer.Option(None, "--criteria", help="Pairwise: criteria to ask (comma-separated; default all)."),
    comparisons: int = typer.Option(8, "--comparisons", min=1, help="Pairwise: comparisons per document."),
    taxonomy: Optional[Path] = typer.Option(None, "--taxonomy", help="Choice tasks: taxonomy YAML (configs/taxonomies/)."),
    template: Optional[Path] = typer.Option(None, "--template", help="Your own prompt template file (with {document}); "
                                            "needs --answer-regex or --answer-json-field."),
    answer_regex: Optional[str] = typer.Option(None, "--answer-regex", help="With --template: regex whose group 1 is the score."),
    answer_json_field: Optional[str] = typer.Option(None, "--answer-json-field", help="With --template: JSON field holding the score."),
    criterion: Optional[str] = typer.Option(None, "--criterion", help="With --template: the criterion's name (default: file stem)."),
    doc_tokens: Optional[int] = typer.Option(None, "--doc-tokens", help="Cut documents to about N tokens "
                                             "(default: the task's; shorter prompts for a slow local model)."),
    model: str = typer.Option("smollm2-135m", "--model", help="Model name written into the requests."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample and the pairs."),
):
    """Sample documents (stratified with --by) and write LLM batch request files for a task.

    Examples:

      curate annotate export runs/demo/3-dedup -o ann/edu --task edu --sample 2000 --by source

      curate annotate export docs/ -o ann/qr --task qurating-pairwise --criteria writing_style,educational_value --sample 500

      curate annotate export docs/ -o ann/topics --task taxonomy --taxonomy configs/taxonomies/weborganizer-topics.yaml

      curate annotate export docs/ -o ann/mine --template my_prompt.txt --answer-regex 'Score: (\\d)'
    """
    from curate.annotate.export import export_requests
    from curate.annotate.tasks import load_task, task_from_template
    from curate.report import console

    try:
        if template is not None:
            the_task = task_from_template(str(template), answer_regex, answer_json_field, criterion)
        else:
            if answer_regex or answer_json_field:
                raise StageError("--answer-regex/--answer-json-field go with --template")
            the_task = load_task(task, str(taxonomy) if taxonomy else None)
        chosen = [c.strip() for c in criteria.split(",") if c.strip()] if criteria else None
        result = export_requests(the_task, inputs, output, sample, by, model, seed, comparisons, chosen, doc_tokens)
    except _errors() as e:
        raise _fail(e) from None
    table = Table(title=f"annotate export: {the_task.tag} ({the_task.kind})", title_justify="left")
    table.add_column(f"stratum ({by or 'all'})")
    table.add_column("available", justify="right")
    table.add_column("sampled", justify="right")
    for stratum, n in result.sample["available"].items():
        table.add_row(stratum, f"{n:,}", f"{result.sample['sampled'][stratum]:,}")
    console.print(table)
    extra = f", {result.pairs:,} pairs x both orders" if result.pairs else ""
    if result.short_excerpts:
        extra += f"; {result.short_excerpts} documents shorter than {the_task.excerpt_tokens[0]} tokens (used whole)"
    console.print(f"{result.requests:,} requests for {result.documents:,} documents{extra} in "
                  f"{', '.join(str(p) for p in result.files)}")
    console.print(f"next: curate llm run {output}/requests-*.jsonl -o {output}/responses.jsonl --endpoint URL; "
                  f"then curate annotate import {output}/responses.jsonl -o labels.parquet")


@annotate_app.command("import")
def import_command(
    responses: list[Path] = typer.Argument(..., help="Response files (batch output JSONL) or folders of them.", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help="Labels file to write (.parquet)."),
    export: Optional[Path] = typer.Option(None, "--export", help="The export folder (default: the responses' folder or its parent)."),
):
    """Parse LLM answers into labels (one column per criterion); pairwise answers become
    Bradley-Terry ratings. Unparseable answers are counted and kept in <labels>.failures.parquet.

    Example:  curate annotate import ann/edu/responses.jsonl -o labels/edu.parquet
    """
    from curate.annotate.importer import import_labels
    from curate.report import console

    try:
        result = import_labels(responses, output, export)
    except _errors() as e:
        raise _fail(e) from None
    table = Table(title=f"annotate import: {result.task}, {result.documents:,} documents", title_justify="left")
    for col in ("criterion", "answers parsed", "failed", "labelled docs", "pairs (both orders)", "held-out pair acc."):
        table.add_column(col, justify="left" if col == "criterion" else "right")
    for name, rep in result.criteria.items():
        acc = "-" if rep.held_out_accuracy is None else f"{rep.held_out_accuracy:.3f} (n={rep.held_out})"
        table.add_row(name, f"{rep.answered:,}", f"{sum(rep.failures.values()):,}", f"{rep.labelled_documents:,}",
                      f"{rep.pairs:,}" if rep.pairs else "-", acc)
    console.print(table)
    for name, rep in result.criteria.items():
        if rep.pairs:
            acc = "n/a (too few pairs)" if rep.held_out_accuracy is None else f"{rep.held_out_accuracy:.3f}"
            console.print(f"{name}: Bradley-Terry fit over {rep.pairs:,} pairs; held-out pair accuracy {acc} "
                          f"({rep.held_out} held-out pairs with a preference)")
        if rep.failures:  # counted, never scored
            console.print(f"{name}: failed answers (no label): " + ", ".join(f"{k} {v}" for k, v in sorted(rep.failures.items())))
    if result.unknown or result.duplicates:
        console.print(f"[yellow]{result.unknown} responses matched no request of this export; "
                      f"{result.duplicates} duplicates ignored[/yellow]")
    if result.failures_file:
        console.print(f"failed answers with their raw text: {result.failures_file}")
    console.print(f"labels: {result.out}")


def add_annotate_commands(app: typer.Typer) -> None:
    app.add_typer(annotate_app, name="annotate")
