"""Counting tokens offline: a `tokenizers` JSON file given by path, else a characters-per-token estimate.

The estimate divides a text's length in characters by a per-language ratio. It is stated as an
estimate wherever it is reported (manifest `tokens.estimate`, `tokens.method`), because real
tokenizers differ by 20-40% between each other on the same text. The ratios below are typical
of the BPE tokenizers with 50k-130k vocabularies used for rewriting models (about 4 characters
per token for English, fewer for languages whose words split into more pieces, 1-1.5 for scripts
written without spaces); they were not measured here for a particular model. For exact budgets
and costs, give the tokenizer file of the model that will run (`--tokenizer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Characters per token by ISO 639-1 language code; DEFAULT for any other language.
CHARS_PER_TOKEN: dict[str, float] = {
    "en": 4.2, "de": 3.5, "fr": 3.7, "es": 3.8, "it": 3.6, "pt": 3.6, "nl": 3.5,
    "pl": 2.9, "cs": 2.8, "sv": 3.4, "da": 3.4, "no": 3.4, "fi": 3.0, "tr": 3.0,
    "ru": 2.8, "uk": 2.6, "el": 2.3, "ar": 2.5, "fa": 2.6, "he": 2.4, "hi": 2.2,
    "vi": 3.0, "id": 3.8, "zh": 1.3, "ja": 1.4, "ko": 1.6, "th": 1.8,
}
DEFAULT_CHARS_PER_TOKEN = 3.5


class TokenizerError(Exception):
    """The tokenizer file could not be loaded; the message names it."""


@dataclass
class TokenCounter:
    """Counts tokens of texts; `exact` is False when counts are the characters-per-token estimate."""

    method: str
    exact: bool
    _tokenizer: object | None = None

    def count(self, text: str, language: str | None = None) -> int:
        if not text:
            return 0
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return estimate_tokens(len(text), language)

    def count_many(self, texts: list[str], language: str | None = None) -> list[int]:
        """Token counts of several texts at once (one batched call to a real tokenizer)."""
        if self._tokenizer is None:
            ratio = chars_per_token(language)
            # estimate_tokens inlined (hot loop): a non-empty text is at least one token
            return [int(len(t) / ratio + 0.999) if t else 0 for t in texts]
        encoded = self._tokenizer.encode_batch([t for t in texts], add_special_tokens=False)
        return [len(e.ids) for e in encoded]


def chars_per_token(language: str | None) -> float:
    if not language:
        return DEFAULT_CHARS_PER_TOKEN
    return CHARS_PER_TOKEN.get(language.split("_")[0].split("-")[0].lower(), DEFAULT_CHARS_PER_TOKEN)


def estimate_tokens(n_chars: int, language: str | None = None, ratio: float | None = None) -> int:
    if n_chars <= 0:
        return 0
    return max(1, int(n_chars / (ratio or chars_per_token(language)) + 0.999))


def token_counter(tokenizer_json: Path | None = None) -> TokenCounter:
    """A counter from a `tokenizers` JSON file, or the per-language estimate when none is given."""
    if tokenizer_json is None:
        return TokenCounter(method="estimate: characters / per-language characters-per-token ratio", exact=False)
    path = Path(tokenizer_json)
    if not path.is_file():
        raise TokenizerError(f"tokenizer file {path} does not exist")
    try:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path))
    except Exception as e:  # noqa: BLE001 - any failure to parse becomes one clear line
        raise TokenizerError(f"tokenizer file {path} could not be loaded: {e}") from None
    return TokenCounter(method=f"tokenizer {path.name}", exact=True, _tokenizer=tok)
