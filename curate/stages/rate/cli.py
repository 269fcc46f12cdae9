"""`curate train-rater`: the command line over rate/train.py."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from curate.inputs import InputError
from curate.shards import ShardError
from curate.stage import StageError
from curate.stages.model_filter.train import TrainParams

DEFAULTS = TrainParams(ratio=3.0)


def train_rater_command(
    labels: list[str] = typer.Argument(..., help="Labels (from `curate annotate import`, or any shards with text "
                                       "and a numeric column named after the criterion).", show_default=False),
    criterion: str = typer.Option(..., "--criterion", help="The column to learn (edu, writing_style, ...)."),
    output: Path = typer.Option(..., "-o", "--output", help="Model file to write (.bin; .ftz = quantised)."),
    name: Optional[str] = typer.Option(None, "--name", help="Registry name (default: the file's stem)."),
    cut: float = typer.Option(3.0, "--cut", help="Report F1 of rating >= cut (FineWeb-Edu kept edu >= 3)."),
    bins: int = typer.Option(5, "--bins", min=2, help="Continuous labels (Bradley-Terry ratings): equal-count bins."),
    epoch: int = typer.Option(DEFAULTS.epoch, "--epoch", min=1, help="Passes over the data (raise for small label sets, e.g. 25)."),
    lr: float = typer.Option(DEFAULTS.lr, "--lr", help="Learning rate."),
    dim: int = typer.Option(DEFAULTS.dim, "--dim", min=1, help="Vector size."),
    bucket: int = typer.Option(DEFAULTS.bucket, "--bucket", min=1, help="Hash buckets for word n-grams."),
    ratio: float = typer.Option(DEFAULTS.ratio, "--ratio", min=1.0, help="Max training examples per level relative to the rarest."),
    valid_fraction: float = typer.Option(DEFAULTS.valid_fraction, "--valid-fraction", min=0.0, max=0.9, help="Held-out share."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed", help="Seed of the sampling and of fastText."),
    demo: bool = typer.Option(False, "--demo", help="Mark it a demo rater in the registry (labels not from an annotator)."),
):
    """Distil one criterion's labels into a fastText rater (a class per level; the rating is the
    expected level), print held-out accuracy, F1 at --cut and Spearman, and register it.

    Example:  curate train-rater labels/edu.parquet --criterion edu -o models/edu-rater.bin
    """
    from curate.report import console
    from curate.stages.rate.train import train_rater

    params = TrainParams(epoch=epoch, lr=lr, dim=dim, bucket=bucket, ratio=ratio, valid_fraction=valid_fraction, seed=seed)
    try:
        result = train_rater(labels, criterion, output, name, cut, bins, params, demo)
    except (StageError, InputError, ShardError) as e:
        console.print(f"[bold red]error:[/bold red] {e}", highlight=False)
        raise typer.Exit(2) from None
    levels = ", ".join(f"{k}: {v:,}" for k, v in result.levels.items())
    how = f"{bins} equal-count bins (labelled by their mean)" if result.binned else "one class per level"
    console.print(f"{result.documents:,} labelled documents ({how}: {levels}); "
                  f"{result.skipped:,} without a {criterion} label skipped")
    m = result.metrics
    table = Table(title=f"{result.model.name}: held-out ({m.get('documents', 0):,} documents)", title_justify="left")
    for col in ("accuracy", f"F1 at >= {cut:g}", "precision", "recall", "Spearman", "mean abs. error"):
        table.add_column(col, justify="right")

    def fmt(v):
        return "-" if v is None else f"{v:.3f}"

    table.add_row(fmt(m.get("accuracy")), fmt(m.get("f1_at_cut")), fmt(m.get("precision_at_cut")),
                  fmt(m.get("recall_at_cut")), fmt(m.get("spearman")), fmt(m.get("mae")))
    console.print(table)
    console.print(f"registered rater {result.model.name!r} ({result.model.kind}, criterion {criterion}): "
                  f"{result.model.path} ({result.model.size:,} bytes) in {result.seconds:.1f} s")


def add_train_rater_command(app: typer.Typer) -> None:
    app.command(name="train-rater")(train_rater_command)
