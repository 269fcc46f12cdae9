"""Skipping the main-text pass for pages a later language check will drop (the language push-down).

When `curate run` has extract followed directly by a model-filter that keeps only some
languages, most of a multilingual crawl is extracted only to be dropped. The gate looks at the
page before the main-text pass: if lid.176 puts both the <title> and the first characters of the
whole page's text in another language, confidently, the page skips the main-text pass and goes on
with the whole page's text, that language, and `extract_language_early = true`, for the
model-filter to reject with its usual reason. Two cheap looks must agree because a title alone
misleads (an English article on a site with a German name); the pages it lets through are
identified on their main text as before. docs/extract.md ("Language push-down") has the measured
agreement with the late check and the time saved, on the tuning and check halves of the dev pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from curate.langid import predict_languages
from curate.records import TEXT

EARLY_COLUMN = "extract_language_early"
# Chosen on the tuning halves of the dev pages (scripts/bench_language_gate.py): 0.5, 0.65 and 0.8
# all dropped no page the late check keeps; 0.65 saved as much time as 0.5 (within noise) with a
# margin, and catches 323 of 396 language drops on trafilatura_eval's tuning half (0.8: 279).
MIN_SCORE = 0.65
PAGE_CHARS = 1_000  # of the whole page's text: lid.176's cost grows with length


@dataclass(frozen=True)
class LanguageGate:
    languages: tuple[str, ...]  # what the later check keeps
    min_score: float = MIN_SCORE


def early_language(tree: HTMLTree, gate: LanguageGate, lid_model: str) -> dict | None:
    """The fields of a page confidently in a language `gate` does not keep, or None (extract it as usual)."""
    title = " ".join((tree.title or "").split())
    if not title:
        return None
    [(lang, score)] = predict_languages([title], lid_model)
    if lang in gate.languages or score < gate.min_score:
        return None
    text = extract_plain_text(tree, main_content=False).strip()
    [(lang, score)] = predict_languages([text], lid_model, PAGE_CHARS)
    if lang in gate.languages or score < gate.min_score:
        return None
    return {TEXT: text, "title": title, "language": lang, "language_score": score, EARLY_COLUMN: True}
