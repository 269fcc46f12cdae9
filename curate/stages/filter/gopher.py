"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods,
Analysis & Insights from Training Gopher", appendix A.1.1 and Table A1), with datatrove 0.10's
GopherQualityFilter / GopherRepetitionFilter as the reference implementation.
"""

from __future__ import annotations

from operator import methodcaller

from curate.stages.filter.features import Features
from curate.stages.filter.rule import Params, Rule, Threshold, above, below, outside, ratio

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")

THRESHOLDS = {
    "min_doc_words": Threshold(50, int, "Gopher: fewest non-symbol words."),
    "max_doc_words": Threshold(100_000, int, "Gopher: most non-symbol words."),
    "min_avg_word_length": Threshold(3.0, float, "Gopher: lowest mean length of non-symbol words."),
    "max_avg_word_length": Threshold(10.0, float, "Gopher: highest mean length of non-symbol words."),
    "max_symbol_word_ratio": Threshold(0.1, float, "Gopher: most '#' (and, separately, '...'/'…') per word."),
    "max_bullet_lines_ratio": Threshold(0.9, float, "Gopher: most lines starting with a bullet ('•' or '-')."),
    "max_ellipsis_lines_ratio": Threshold(0.3, float, "Gopher: most lines ending with an ellipsis."),
    "min_alpha_words_ratio": Threshold(0.8, float, "Gopher: fewest words containing a letter, per word."),
    "min_stop_words": Threshold(2, int, "Gopher: fewest distinct stop words present."),
    "stop_words": Threshold(list(STOP_WORDS), list, "Gopher: the stop words (English; set per language)."),
    "dup_line_frac": Threshold(0.3, float, "Gopher Table A1: most duplicate lines, per line."),
    "dup_para_frac": Threshold(0.3, float, "Gopher Table A1: most duplicate paragraphs, per paragraph."),
    "dup_line_char_frac": Threshold(0.2, float, "Gopher Table A1: most characters in duplicate lines, per character."),
    "dup_para_char_frac": Threshold(0.2, float, "Gopher Table A1: most characters in duplicate paragraphs, per character."),
    **{f"top_{n}gram_frac": Threshold(v, float, f"Gopher Table A1: most characters covered by the top {n}-gram.")
       for n, v in ((2, 0.2), (3, 0.18), (4, 0.16))},
    **{f"dup_{n}gram_frac": Threshold(v, float, f"Gopher Table A1: most characters in duplicate {n}-grams.")
       for n, v in ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))},
}


# -- repetition (the reference runs these first) ----------------------------------------

def _para_frac(f: Features, p: Params):
    n, dups, _ = f.paragraph_duplicates
    return ratio(dups, n)


def _para_char_frac(f: Features, p: Params):
    return ratio(f.paragraph_duplicates[2], len(f.text))


def _line_frac(f: Features, p: Params):
    n, dups, _ = f.line_duplicates
    return ratio(dups, n)


def _line_char_frac(f: Features, p: Params):
    return ratio(f.line_duplicates[2], len(f.text))


def _top_ngram(n: int):
    def measure(f: Features, p: Params):
        if f.ngrams.n_words < n:
            return None  # no n-grams: the reference skips the test
        return ratio(f.ngrams.top_ngram_chars(n), len(f.text))
    return measure


def _dup_ngram(n: int):
    def measure(f: Features, p: Params):
        return ratio(f.ngrams.duplicate_ngram_chars(n), len(f.text))
    return measure


REPETITION_RULES = [
    Rule("gopher_dup_para_frac", _para_frac, above("dup_para_frac"), ("dup_para_frac",),
         "Fraction of paragraphs (split at blank lines) that repeat an earlier one."),
    Rule("gopher_dup_para_char_frac", _para_char_frac, above("dup_para_char_frac"), ("dup_para_char_frac",),
         "Characters in repeated paragraphs / all characters."),
    Rule("gopher_dup_line_frac", _line_frac, above("dup_line_frac"), ("dup_line_frac",),
         "Fraction of lines that repeat an earlier one."),
    Rule("gopher_dup_line_char_frac", _line_char_frac, above("dup_line_char_frac"), ("dup_line_char_frac",),
         "Characters in repeated lines / all characters."),
    *[Rule(f"gopher_top_{n}gram", _top_ngram(n), above(f"top_{n}gram_frac"), (f"top_{n}gram_frac",),
           f"Characters covered by the most frequent word {n}-gram / all characters.") for n in (2, 3, 4)],
    *[Rule(f"gopher_dup_{n}gram", _dup_ngram(n), above(f"dup_{n}gram_frac"), (f"dup_{n}gram_frac",),
           f"Characters in word {n}-grams repeating an earlier one / all characters.") for n in range(5, 11)],
]


# -- quality ------------------------------------------------------------------------------

def _mean_word_length(f: Features, p: Params):
    n, chars, _ = f.word_classes
    return ratio(chars, n)


def _hash_ratio(f: Features, p: Params):
    return ratio(f.text.count("#"), len(f.words))


def _ellipsis_ratio(f: Features, p: Params):
    return ratio(f.text.count("...") + f.text.count("…"), len(f.words))


# per-line tests as C calls mapped over the lines (no Python loop per line)
_STARTS_WITH_BULLET = methodcaller("startswith", ("•", "-"))
_ENDS_WITH_ELLIPSIS = methodcaller("endswith", ("...", "…"))


def _bullet_lines(f: Features, p: Params):
    return ratio(sum(map(_STARTS_WITH_BULLET, map(str.lstrip, f.lines))), len(f.lines))


def _ellipsis_lines(f: Features, p: Params):
    return ratio(sum(map(_ENDS_WITH_ELLIPSIS, map(str.rstrip, f.lines))), len(f.lines))


def _alpha_words(f: Features, p: Params):
    return ratio(f.word_classes[2], len(f.words))


def _stop_words(f: Features, p: Params):
    return len(set(p["stop_words"]).intersection(f.words))


QUALITY_RULES = [
    Rule("gopher_min_words", lambda f, p: f.word_classes[0], below("min_doc_words"),
         ("min_doc_words",), "Number of words that are not only punctuation."),
    Rule("gopher_max_words", lambda f, p: f.word_classes[0], above("max_doc_words"),
         ("max_doc_words",), "Number of words that are not only punctuation."),
    Rule("gopher_mean_word_length", _mean_word_length,
         outside("min_avg_word_length", "max_avg_word_length"),
         ("min_avg_word_length", "max_avg_word_length"), "Mean length of the non-symbol words."),
    Rule("gopher_hash_ratio", _hash_ratio, above("max_symbol_word_ratio"), ("max_symbol_word_ratio",),
         "'#' characters per word."),
    Rule("gopher_ellipsis_ratio", _ellipsis_ratio, above("max_symbol_word_ratio"), ("max_symbol_word_ratio",),
         "'...' and '…' per word."),
    Rule("gopher_bullet_lines", _bullet_lines, above("max_bullet_lines_ratio"), ("max_bullet_lines_ratio",),
         "Fraction of lines starting with '•' or '-'."),
    Rule("gopher_ellipsis_lines", _ellipsis_lines, above("max_ellipsis_lines_ratio"), ("max_ellipsis_lines_ratio",),
         "Fraction of lines ending with '...' or '…'."),
    Rule("gopher_alpha_words", _alpha_words, below("min_alpha_words_ratio"), ("min_alpha_words_ratio",),
         "Fraction of words (punctuation tokens included) containing a letter."),
    Rule("gopher_stop_words", _stop_words, below("min_stop_words"), ("min_stop_words", "stop_words"),
         "Number of distinct stop words present (case-sensitive, as the reference)."),
]
