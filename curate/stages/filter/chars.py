"""Character-level rules: empty and oversized texts, non-printable characters, repeated
characters and word salad. Not part of the published presets' parity; enable them by name.
"""

from __future__ import annotations

import re

from curate.stages.filter.features import Features
from curate.stages.filter.rule import Params, Rule, Threshold, above, below, ratio

# Control characters (but tab and line breaks), private-use and surrogate code points, and the
# replacement character U+FFFD that decoding errors leave behind.
NON_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]")
# A non-space character repeated 10 or more times in a row ("!!!!!!!!!!", "aaaaaaaaaa").
REPEATED_CHAR = re.compile(r"(\S)\1{9,}")

THRESHOLDS = {
    "max_doc_chars": Threshold(5_000_000, int, "curate: longest text measured; longer ones are dropped unmeasured "
                                               "(a safety bound on time and memory; Gopher's word limit drops them anyway)."),
    "max_nonprintable_ratio": Threshold(0.01, float, "curate: most control / private-use / U+FFFD characters, per character."),
    "max_repeated_char_ratio": Threshold(0.1, float, "curate: most characters in runs of 10+ identical characters, per character."),
    "min_stop_word_ratio": Threshold(0.05, float, "RedPajama-V2's rps_doc_stop_word_fraction: fewest stop words per "
                                                  "non-symbol word (word salad, keyword lists); uses stop_words."),
}


def _too_large(f: Features, p: Params):
    return len(f.text)


def _stop_word_ratio(f: Features, p: Params):
    stop = set(p["stop_words"])
    words = f.non_symbol_words
    return ratio(sum(1 for w in words if w.lower() in stop), len(words))


EMPTY = Rule("empty", lambda f, p: float(not f.text.strip()), above(None), (),
             "1 when the text has no visible character.")
TOO_LARGE = Rule("too_large", _too_large, above("max_doc_chars"), ("max_doc_chars",),
                 "Characters in the text.")

RULES = [
    Rule("nonprintable_ratio", lambda f, p: ratio(len(NON_PRINTABLE.findall(f.text)), len(f.text)),
         above("max_nonprintable_ratio"), ("max_nonprintable_ratio",),
         "Control, private-use and replacement characters / characters."),
    Rule("repeated_char_ratio", lambda f, p: ratio(sum(len(m.group()) for m in REPEATED_CHAR.finditer(f.text)), len(f.text)),
         above("max_repeated_char_ratio"), ("max_repeated_char_ratio",),
         "Characters in runs of 10+ identical non-space characters / characters."),
    Rule("word_salad", _stop_word_ratio, below("min_stop_word_ratio"), ("min_stop_word_ratio", "stop_words"),
         "Stop words (case-insensitive) / non-symbol words."),
]
