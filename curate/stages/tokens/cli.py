"""`curate tokens-calibrate`: a tokenizer's chars-per-token ratio per language, for the estimate."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def add_calibrate_command(app: typer.Typer) -> None:
    @app.command("tokens-calibrate")
    def tokens_calibrate(
        inputs: list[str] = typer.Argument(..., help="Shards with text (and a language column)."),
        tokenizer: Path = typer.Option(..., "--tokenizer", help="A tokenizers JSON file."),
        max_docs: int = typer.Option(20_000, "--max-docs", min=1, help="Read at most this many documents."),
        out: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write the ratios as YAML here."),
    ):
        """Measure a tokenizer's characters per token by language, to use as the tokens stage's
        `chars_per_token` when counting exactly is too slow or the tokenizer is not at hand.

        Example:  curate tokens-calibrate runs/demo/03-dedup --tokenizer tokenizer.json -o cpt.yaml
        """
        from itertools import islice

        import yaml
        from rich.table import Table

        from curate.inputs import resolve_inputs
        from curate.records import TEXT, is_rejected
        from curate.report import console
        from curate.shards import SHARD_SUFFIXES
        from curate.stages.tokens import load_tokenizer
        from curate.stages.tokens.calibrate import measure_ratios
        from curate.stages.tokens.estimate import DEFAULT

        tok = load_tokenizer(str(tokenizer))  # errors: CurateError, mapped to exit codes by curate.cli.main
        shards = resolve_inputs(inputs, SHARD_SUFFIXES)
        from curate.shards import read_shard

        docs = ((d.get("language"), d[TEXT]) for s in shards for d in read_shard(s.path, s.name, s.source)
                if not is_rejected(d))
        tallies = measure_ratios(tok, islice(docs, max_docs))
        table = Table(title=f"characters per token: {tokenizer.name}", title_justify="left")
        for col in ("language", "docs", "chars", "tokens", "chars/token"):
            table.add_column(col, justify="left" if col == "language" else "right")
        for lang, t in sorted(tallies.items(), key=lambda kv: -kv[1].docs):
            table.add_row(lang, f"{t.docs:,}", f"{t.chars:,}", f"{t.tokens:,}", f"{t.ratio:.3f}")
        console.print(table)
        total_c, total_t = sum(t.chars for t in tallies.values()), sum(t.tokens for t in tallies.values())
        ratios = {lang: round(t.ratio, 3) for lang, t in tallies.items() if t.tokens}
        ratios["default"] = round(total_c / total_t, 3) if total_t else DEFAULT
        if out is not None:
            out.write_text(yaml.safe_dump({"chars_per_token": ratios}, sort_keys=True))
            console.print(f"ratios written to {out}")
