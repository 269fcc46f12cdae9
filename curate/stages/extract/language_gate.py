"""Skipping the main-text pass for pages a later language check will drop (the language push-down).

When `curate run` has extract followed directly by a model-filter that keeps only some
languages, most of a multilingual crawl is extracted only to be dropped. The gate looks at the
parsed page before the main-text pass: if the page declares another language (`<html lang>`) and
lid.176 agrees on its `<title>`, confidently, the page skips the main-text pass and goes on with its
title as text, that language and `extract_language_early = true`, for model-filter to reject with
its usual reason. Both must agree because either alone misleads (a `lang` attribute left at a
template's default; an English article on a site with a German name); every other page is
identified on its main text as before. Both looks are nearly free (≈ 0.2 ms a page), where the
whole page's text, an earlier version's second look, cost about as much as the pass it skipped.
docs/extract.md ("Language push-down") has the measured agreement with the late check and the time
saved, on the tuning and check halves of the dev pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from resiliparse.parse.html import HTMLTree

from curate.langid import predict_languages
from curate.records import TEXT

EARLY_COLUMN = "extract_language_early"
# Chosen on the tuning halves of the dev pages (scripts/bench_language_gate.py), as the late check's
# FineWeb threshold: no page the late check keeps was stopped, on either half.
MIN_SCORE = 0.65


@dataclass(frozen=True)
class LanguageGate:
    languages: tuple[str, ...]  # what the later check keeps
    min_score: float = MIN_SCORE


def declared_language(tree: HTMLTree) -> str:
    """The primary subtag of `<html lang>` ("pt-BR" -> "pt"), "" when absent."""
    root = tree.document.get_elements_by_tag_name("html")
    value = (root[0].getattr("lang") or "") if root else ""
    return value.strip().replace("_", "-").split("-")[0].lower()


def early_language(tree: HTMLTree, gate: LanguageGate, lid_model: str) -> dict | None:
    """The fields of a page surely in a language `gate` does not keep, or None (extract it as usual)."""
    declared = declared_language(tree)
    if not declared or declared in gate.languages:
        return None
    title = " ".join((tree.title or "").split())
    if not title:
        return None
    [(lang, score)] = predict_languages([title], lid_model)
    if lang in gate.languages or score < gate.min_score:
        return None
    return {TEXT: title, "title": title, "language": lang, "language_score": score, EARLY_COLUMN: True}
