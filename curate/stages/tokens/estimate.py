"""Token counts without a tokenizer: characters divided by a per-language chars-per-token ratio.

The ratios were measured with scripts/bench_tokens.py: a 32k-vocabulary byte-level BPE trained
with the `tokenizers` library on the tuning half of 75 languages of real web sentences
(../shared/data/lingua_lid_testdata), ratio = total characters / total tokens per language on that
half; docs/tokens.md states the estimate's error on the other half. Another tokenizer has other
ratios: give it by path (`--tokenizer`, exact counts), or measure its ratios with
`curate tokens-calibrate` and pass them as `chars_per_token`.

The same estimate is a DuckDB expression (`token_sql`) so select, sample, mix and report can use
it over shards that have no `n_tokens` column.
"""

from __future__ import annotations

# Filled in from scripts/bench_tokens.py (tuning half); languages missing here use DEFAULT.
CHARS_PER_TOKEN: dict[str, float] = {
    "af": 3.18,
    "ar": 2.29,
    "az": 2.82,
    "be": 2.52,
    "bg": 2.75,
    "bn": 1.38,
    "bs": 3.0,
    "ca": 3.04,
    "cs": 2.63,
    "cy": 2.75,
    "da": 3.15,
    "de": 3.04,
    "el": 2.45,
    "en": 3.31,
    "eo": 2.96,
    "es": 3.33,
    "et": 2.85,
    "eu": 3.12,
    "fa": 2.52,
    "fi": 2.89,
    "fr": 2.96,
    "ga": 2.9,
    "gu": 1.41,
    "he": 2.07,
    "hi": 1.5,
    "hr": 3.01,
    "hu": 2.72,
    "hy": 2.46,
    "id": 3.63,
    "is": 2.78,
    "it": 3.3,
    "ja": 1.0,
    "ka": 2.51,
    "kk": 2.77,
    "ko": 1.28,
    "la": 3.12,
    "lg": 3.11,
    "lt": 2.78,
    "lv": 2.79,
    "mi": 3.21,
    "mk": 2.92,
    "mn": 2.74,
    "mr": 1.35,
    "ms": 3.41,
    "nb": 3.18,
    "nl": 3.26,
    "nn": 3.15,
    "pa": 1.49,
    "pl": 2.7,
    "pt": 3.2,
    "ro": 3.03,
    "ru": 2.57,
    "sk": 2.68,
    "sl": 2.95,
    "sn": 3.21,
    "so": 3.11,
    "sq": 2.97,
    "sr": 2.68,
    "st": 3.26,
    "sv": 3.16,
    "sw": 3.24,
    "ta": 1.33,
    "te": 1.31,
    "th": 1.77,
    "tl": 3.27,
    "tn": 3.28,
    "tr": 2.97,
    "ts": 3.37,
    "uk": 2.62,
    "ur": 2.78,
    "vi": 3.06,
    "xh": 3.24,
    "yo": 2.47,
    "zh": 0.87,
    "zu": 3.2,
}
DEFAULT = 2.9

N_TOKENS = "n_tokens"
TOKENS_METHOD = "tokens_method"


def ratio(language: str | None, overrides: dict[str, float] | None = None) -> float:
    if overrides and language in overrides:
        return overrides[language]
    if overrides and "default" in overrides and language not in CHARS_PER_TOKEN:
        return overrides["default"]
    return CHARS_PER_TOKEN.get(language or "", DEFAULT)


def estimate_tokens(text: str | None, language: str | None, overrides: dict[str, float] | None = None) -> int:
    """At least one token for any non-empty text."""
    if not text:
        return 0
    return max(1, round(len(text) / ratio(language, overrides)))


def token_sql(columns: set[str], text: str = "text", language: str = "language") -> tuple[str, str]:
    """(DuckDB expression for a document's tokens, 'n_tokens' or 'estimate') given a relation's columns."""
    if N_TOKENS in columns:
        return f'"{N_TOKENS}"', N_TOKENS
    if language in columns:
        cases = " ".join(f"WHEN '{lang}' THEN {r}" for lang, r in sorted(CHARS_PER_TOKEN.items()))
        divisor = f"(CASE \"{language}\" {cases} ELSE {DEFAULT} END)" if cases else str(DEFAULT)
    else:
        divisor = str(DEFAULT)
    return (f'(CASE WHEN "{text}" IS NULL OR length("{text}") = 0 THEN 0 '
            f'ELSE greatest(1, round(length("{text}") / {divisor}))::BIGINT END)'), "estimate"
