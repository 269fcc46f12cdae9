"""The tokens stage: `n_tokens` per document, the unit of every budget (select, sample, mix, report).

Exact with a `tokenizers` JSON file given by path (read locally, nothing downloaded); otherwise
an estimate from characters and a per-language chars-per-token ratio (estimate.py), whose error
against a real tokenizer is measured in docs/tokens.md. `tokens_method` says which was used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from itertools import islice
from pathlib import Path

import pyarrow as pa
from pydantic import Field

from curate.manifest import file_hash
from curate.records import TEXT, is_rejected
from curate.errors import StageError
from curate.stage import Stage, StageConfig
from curate.stages import register
from curate.stages.tokens.estimate import N_TOKENS, TOKENS_METHOD, estimate_tokens

BATCH = 1024


class TokensConfig(StageConfig):
    tokenizer: Path | None = Field(None, description=(
        "A Hugging Face `tokenizers` JSON file (tokenizer.json) for exact counts; without it, a per-language estimate."))
    chars_per_token: dict[str, float] = Field({}, description=(
        "Estimate only: characters per token by language code (key `default` for the others), "
        "e.g. from `curate tokens-calibrate`. Config file only."))
    add_special_tokens: bool = Field(False, description="Count the tokenizer's special tokens (BOS/EOS) too.")


@cache
def load_tokenizer(path: str):
    try:
        from tokenizers import Tokenizer
    except ImportError:  # pragma: no cover - a dependency of curate
        raise StageError("the tokens stage needs the `tokenizers` package for --tokenizer") from None
    try:
        return Tokenizer.from_file(path)
    except Exception as e:  # noqa: BLE001 - tokenizers raises a bare Exception on bad files
        raise StageError(f"{path}: not a tokenizers JSON file ({str(e).splitlines()[0][:200]})") from None


def _add_calibrate_command(app) -> None:
    from curate.stages.tokens.cli import add_calibrate_command

    add_calibrate_command(app)


@register
class TokensStage(Stage):
    """Count tokens per document (n_tokens): exact with a tokenizer file, else a per-language estimate."""

    name = "tokens"
    Config = TokensConfig
    columns = {N_TOKENS: pa.int64(), TOKENS_METHOD: pa.string()}
    cli_commands = [_add_calibrate_command]
    examples = (
        "curate tokens runs/dedup -o runs/tokens --tokenizer models/tokenizer.json\n"
        "curate tokens runs/dedup -o runs/tokens      # estimate from characters per token by language"
    )

    def check(self) -> None:
        path = self.config.tokenizer
        if path is not None:
            if not Path(path).is_file():
                raise StageError(f"tokens: tokenizer file {path} not found")
            load_tokenizer(str(path))

    def fingerprint_extra(self) -> dict:
        path = self.config.tokenizer
        return {"tokenizer": file_hash(Path(path)) if path is not None and Path(path).is_file() else None}

    def setup(self) -> None:
        path = self.config.tokenizer
        self._tokenizer = load_tokenizer(str(path)) if path is not None else None
        self._method = f"tokenizer:{Path(path).name}" if path is not None else "estimate"

    def _count(self, batch: list[dict]) -> list[int]:
        if self._tokenizer is None:
            overrides = self.config.chars_per_token
            return [estimate_tokens(d.get(TEXT), d.get("language"), overrides) for d in batch]
        texts = [d.get(TEXT) or "" for d in batch]
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=self.config.add_special_tokens)
        return [len(e.ids) for e in encodings]

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        if not hasattr(self, "_method"):
            self.setup()
        it = iter(docs)
        while batch := list(islice(it, BATCH)):
            live = [d for d in batch if not is_rejected(d)]
            for doc, n in zip(live, self._count(live)):
                doc[N_TOKENS] = n
                doc[TOKENS_METHOD] = self._method
            yield from batch
