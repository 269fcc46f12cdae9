"""Measuring chars-per-token ratios of a tokenizer, and the error of the estimate they give.

Used by `curate tokens-calibrate` (ratios for the user's own tokenizer, to put in the config)
and by scripts/bench_tokens.py (the built-in ratios and their error, docs/tokens.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class LanguageTally:
    docs: int = 0
    chars: int = 0
    tokens: int = 0

    @property
    def ratio(self) -> float:
        return self.chars / self.tokens if self.tokens else 0.0


@dataclass
class ErrorTally:
    """Per-document relative errors |estimate - exact| / exact, and the total-count error."""

    errors: list[float] = field(default_factory=list)
    exact: int = 0
    estimated: int = 0

    def add(self, exact: int, estimated: int) -> None:
        if exact > 0:
            self.errors.append(abs(estimated - exact) / exact)
        self.exact += exact
        self.estimated += estimated

    @property
    def median(self) -> float:
        e = sorted(self.errors)
        return e[len(e) // 2] if e else 0.0

    @property
    def p90(self) -> float:
        e = sorted(self.errors)
        return e[min(len(e) - 1, int(0.9 * len(e)))] if e else 0.0

    @property
    def total(self) -> float:
        """Relative error of the summed count (what a token budget sees)."""
        return (self.estimated - self.exact) / self.exact if self.exact else 0.0


def count_tokens(tokenizer, texts: list[str]) -> list[int]:
    return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def measure_ratios(tokenizer, docs: Iterable[tuple[str, str]], batch: int = 512) -> dict[str, LanguageTally]:
    """docs: (language, text) pairs; returns the tally per language."""
    tallies: dict[str, LanguageTally] = {}
    pending: list[tuple[str, str]] = []

    def flush() -> None:
        for (lang, text), n in zip(pending, count_tokens(tokenizer, [t for _, t in pending])):
            t = tallies.setdefault(lang, LanguageTally())
            t.docs += 1
            t.chars += len(text)
            t.tokens += n
        pending.clear()

    for lang, text in docs:
        if text:
            pending.append((lang or "unknown", text))
            if len(pending) >= batch:
                flush()
    flush()
    return tallies


def estimate_errors(tokenizer, docs: Iterable[tuple[str, str]], ratios: dict[str, float], default: float) -> dict[str, ErrorTally]:
    """Per-language error of chars/ratio against the tokenizer's exact counts (plus 'all')."""
    out: dict[str, ErrorTally] = {"all": ErrorTally()}
    docs = [(lang, text) for lang, text in docs if text]
    for i in range(0, len(docs), 512):
        part = docs[i:i + 512]
        for (lang, text), exact in zip(part, count_tokens(tokenizer, [t for _, t in part])):
            est = max(1, round(len(text) / ratios.get(lang, default)))
            out.setdefault(lang, ErrorTally()).add(exact, est)
            out["all"].add(exact, est)
    return out
