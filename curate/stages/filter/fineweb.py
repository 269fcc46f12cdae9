"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.5.2), with
datatrove 0.10's FineWebQualityFilter as the reference implementation.

In the FineWeb pipeline they run after C4's line removal and so measure the text C4 kept;
curate does the same whenever a C4 rule is active.
"""

from __future__ import annotations

from operator import methodcaller

from curate.stages.filter.features import TERMINAL_PUNCTUATION, Features, find_duplicates
from curate.stages.filter.rule import Params, Rule, Threshold, above, ratio

THRESHOLDS = {
    "line_punct_thr": Threshold(0.12, float, "FineWeb: fewest lines ending in terminal punctuation, per line."),
    "line_punct_exclude_zero": Threshold(False, bool, "FineWeb: let documents with no such line pass (FineWeb-2 style)."),
    "short_line_thr": Threshold(0.67, float, "FineWeb: most lines of at most short_line_length characters, per line."),
    "short_line_length": Threshold(30, int, "FineWeb: a line this long or shorter is short."),
    "char_duplicates_ratio": Threshold(0.01, float, "FineWeb: most characters in duplicate lines, per character."),
    "new_line_ratio": Threshold(0.3, float, "FineWeb: most newlines per word (list-like pages)."),
}

_ENDS_WITH_STOP_CHAR = methodcaller("endswith", tuple(TERMINAL_PUNCTUATION))  # mapped over lines, in C


def _lines(f: Features) -> list[str]:
    if "fineweb_lines" not in f.memo:
        f.memo["fineweb_lines"] = list(filter(str.strip, f.text.split("\n")))  # the non-blank lines
    return f.memo["fineweb_lines"]


def _line_punct(f: Features, p: Params):
    lines = _lines(f)
    if not lines:  # nothing left: the reference drops the document ("empty")
        return 0.0
    return sum(map(_ENDS_WITH_STOP_CHAR, lines)) / len(lines)


def _short_lines(f: Features, p: Params):
    lines = _lines(f)
    n = p["short_line_length"]
    return ratio(sum(map(n.__ge__, map(len, lines))), len(lines))


def _char_dup(f: Features, p: Params):
    return ratio(find_duplicates(_lines(f))[1], len(f.text) - f.text.count("\n"))


def _list_ratio(f: Features, p: Params):
    return ratio(f.text.count("\n"), f.n_words)


def _too_few_punct_lines(v: float, p: Params) -> bool:
    return v < p["line_punct_thr"] and not (v == 0 and p["line_punct_exclude_zero"])


_too_few_punct_lines.limits = (("<", "line_punct_thr"),)

RULES = [
    Rule("fineweb_line_punct_ratio", _line_punct,
         _too_few_punct_lines,
         ("line_punct_thr", "line_punct_exclude_zero"), "Fraction of non-empty lines ending in terminal punctuation.",
         reads_c4_text=True),
    Rule("fineweb_short_line_ratio", _short_lines, above("short_line_thr"),
         ("short_line_thr", "short_line_length"), "Fraction of non-empty lines of at most short_line_length characters.",
         reads_c4_text=True),
    Rule("fineweb_char_dup_ratio", _char_dup, above("char_duplicates_ratio"), ("char_duplicates_ratio",),
         "Characters in non-empty lines repeating an earlier one / characters (newlines excluded).",
         reads_c4_text=True),
    Rule("fineweb_list_ratio", _list_ratio, above("new_line_ratio"), ("new_line_ratio",),
         "Newlines per word.",
         reads_c4_text=True),
]
