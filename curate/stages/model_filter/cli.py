"""`curate train-classifier`: the command line over train.train_classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from curate.stages.model_filter.train import TrainParams, TrainResult, train_classifier

DEFAULTS = TrainParams()


def _split(values: list[str] | None) -> list[str]:
    """Repeated options and comma-separated lists both work: --positive a.jsonl,b.jsonl --positive c/."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _report(result: TrainResult, params: TrainParams) -> None:
    from curate.report import console

    info = result.model
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    trained = ", ".join(f"{k} {v:,}" for k, v in result.train_counts.items())
    held = ", ".join(f"{k} {v:,}" for k, v in result.valid_counts.items())
    console.print(f"documents read: {counts}")
    console.print(f"held-out split ({params.valid_fraction:.0%} by text hash): {held}")
    console.print(f"trained on: {trained} (each class sampled down to at most {params.ratio:g}x the smallest)")
    m = result.metrics
    table = Table(title=f"{info.name}: held-out metrics", title_justify="left")
    for col in ("label", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, lm in m.get("per_label", {}).items():
        table.add_row(label, f"{lm['precision']:.3f}", f"{lm['recall']:.3f}", f"{lm['f1']:.3f}", f"{lm['support']:,}")
    console.print(table)
    if "f1" in m:
        console.print(f"positive class: precision {m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f}; "
                      f"accuracy {m['accuracy']:.3f}")
    elif m:
        console.print(f"accuracy {m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}")
    else:
        console.print("[yellow]held-out split is empty: no metrics (more data or a larger --valid-fraction)[/yellow]")
    console.print(f"registered model {info.name!r}: {info.path} ({info.size:,} bytes, sha256 {info.sha256[:16]}…) "
                  f"in {result.seconds:.1f} s")


def train_classifier_command(
    inputs: Optional[list[str]] = typer.Argument(None, help="With --labels: labelled shards (any format curate reads).", show_default=False),
    positive: Optional[list[str]] = typer.Option(None, "--positive", help="Shards of good documents (repeat or comma-separate)."),
    negative: Optional[list[str]] = typer.Option(None, "--negative", help="Shards of bad documents (repeat or comma-separate)."),
    output: Path = typer.Option(..., "-o", "--output", help="Model file to write (.bin; .ftz = quantised)."),
    name: Optional[str] = typer.Option(None, "--name", help="Registry name (default: the file's stem); its score column is named after it."),
    labels: Optional[str] = typer.Option(None, "--labels", help="Column holding each record's class, for two or more classes."),
    epoch: int = typer.Option(DEFAULTS.epoch, "--epoch", min=1, help="Passes over the data (raise for small training sets, e.g. 25)."),
    lr: float = typer.Option(DEFAULTS.lr, "--lr", help="Learning rate (lower it if training diverges)."),
    dim: int = typer.Option(DEFAULTS.dim, "--dim", min=1, help="Vector size; model size ~ 4 bytes x dim x (words + buckets)."),
    word_ngrams: int = typer.Option(DEFAULTS.word_ngrams, "--word-ngrams", min=1, help="2 = word bigrams, as DCLM."),
    min_count: int = typer.Option(DEFAULTS.min_count, "--min-count", min=1, help="Ignore words seen fewer times."),
    bucket: int = typer.Option(DEFAULTS.bucket, "--bucket", min=1, help="Hash buckets for n-grams."),
    threads: int = typer.Option(DEFAULTS.threads, "--threads", min=1, help="Training threads (1 = reproducible)."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed", help="Seed of the sampling and of fastText."),
    max_chars: int = typer.Option(DEFAULTS.max_chars, "--max-chars", min=1, help="Train on the first N characters, as scoring does."),
    valid_fraction: float = typer.Option(DEFAULTS.valid_fraction, "--valid-fraction", min=0.0, max=0.9, help="Held-out share."),
    ratio: float = typer.Option(DEFAULTS.ratio, "--ratio", min=1.0, help="Max examples per class relative to the smallest class."),
    quantize: bool = typer.Option(DEFAULTS.quantize, "--quantize/--no-quantize", help="Write a small quantised model."),
    features: str = typer.Option(DEFAULTS.features, "--features", help="Training line: text (as model-filter scores) or tag2 (the tag stage's: lower-cased, title, URL tokens; tag = its older, slower version)."),
    minn: int = typer.Option(DEFAULTS.minn, "--minn", min=0, help="Shortest character n-gram (0 = none)."),
    maxn: int = typer.Option(DEFAULTS.maxn, "--maxn", min=0, help="Longest character n-gram (0 = none). fastText adds them to the words; --model linear reads them instead of the words (many languages: --minn 2 --maxn 5, as the built-in sib200-topic)."),
    model: str = typer.Option(DEFAULTS.model, "--model", help="fasttext, or linear: TF-IDF words -> linear SVM, saved as .npz (a tagger: far more accurate than fastText on a few thousand labelled documents)."),
    c: float = typer.Option(DEFAULTS.c, "--c", min=1e-6, help="With --model linear: inverse regularisation strength."),
):
    """Train a fastText classifier (DCLM-style: word bigrams, held-out split), print held-out
    precision/recall/F1, and register it so `curate model-filter --models NAME` can use it.

    Examples:

      curate train-classifier --positive good.jsonl --negative spam.jsonl -o models/quality.bin --name quality

      curate train-classifier rated/*.parquet --labels edu_score -o models/edu.ftz --name edu

      curate train-classifier labelled/ --labels topic --features tag2 --epoch 25 -o models/topic.bin --name my-topic

      curate train-classifier labelled/ --labels topic --features tag2 --model linear --ratio 100 --max-chars 3000 -o models/topic.npz
    """
    params = TrainParams(epoch=epoch, lr=lr, dim=dim, word_ngrams=word_ngrams, min_count=min_count, bucket=bucket,
                         threads=threads, seed=seed, max_chars=max_chars, valid_fraction=valid_fraction, ratio=ratio,
                         quantize=quantize, features=features, minn=minn, maxn=maxn, model=model, c=c)
    result = train_classifier(output, name, _split(positive), _split(negative), _split(inputs), labels, params)
    _report(result, params)


def add_train_command(app: typer.Typer) -> None:
    app.command(name="train-classifier")(train_classifier_command)
