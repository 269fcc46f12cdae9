"""C4's cleaning rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a
Unified Text-to-Text Transformer", section 2.2; tensorflow_datasets c4_utils), with datatrove 0.10's
C4QualityFilter as the reference implementation.

C4 works line by line: lines that are too short, mention javascript or a cookie/terms policy
(or lack terminal punctuation, in the original C4 but not in FineWeb) are removed; a page
with "lorem ipsum" or a curly bracket on a kept line is dropped, and so is one with fewer than
five sentences left. The kept lines become the document's text (`c4_clean_text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curate.stages.filter.features import Features, is_symbol
from curate.stages.filter.rule import Params, Rule, Threshold, above, below
from curate.stages.filter.tokenize import count_sentences, spacy_tokens

CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")

THRESHOLDS = {
    "c4_min_sentences": Threshold(5, int, "C4: fewest sentences on the kept lines."),
    "c4_min_words_per_line": Threshold(3, int, "C4: lines with fewer whitespace-separated words are removed."),
    "c4_max_word_length": Threshold(1000, int, "C4 code: lines with a longer word are removed."),
    "c4_drop_no_terminal_punct_lines": Threshold(True, bool, "C4: remove lines not ending in . ? ! \" ' (FineWeb: off)."),
    "c4_drop_javascript_lines": Threshold(True, bool, "C4: remove lines mentioning javascript."),
    "c4_drop_policy_lines": Threshold(True, bool, "C4 code: remove cookie / terms-of-use lines."),
    "c4_remove_citations": Threshold(True, bool, "C4 code: strip wikipedia-style citations like [1] and [edit]."),
    "c4_clean_text": Threshold(True, bool, "Replace the text by C4's kept lines, as C4 and FineWeb publish it."),
}


@dataclass
class C4Pass:
    kept_lines: list[str]
    kept_words: list[list[str]]  # word tokens of each kept line
    sentences: int
    lorem_ipsum: bool  # a kept line contains "lorem ipsum"
    curly_bracket: bool  # a kept line contains "{"


def c4_pass(f: Features, p: Params) -> C4Pass:
    """The line pass, once per document and parameter set."""
    key = ("c4", p["c4_min_words_per_line"], p["c4_max_word_length"], p["c4_drop_no_terminal_punct_lines"],
           p["c4_drop_javascript_lines"], p["c4_drop_policy_lines"], p["c4_remove_citations"])
    if key in f.memo:
        return f.memo[key]
    # Per-line substring tests only when the whole text contains the substring at all.
    text_lower = f.text.lower()
    max_word = p["c4_max_word_length"]
    min_words = p["c4_min_words_per_line"]
    terminal = p["c4_drop_no_terminal_punct_lines"]
    citations = p["c4_remove_citations"] and "[" in f.text
    check_lorem = "lorem ipsum" in text_lower
    check_js = p["c4_drop_javascript_lines"] and "javascript" in text_lower
    check_curly = "{" in f.text
    policies = [s for s in POLICY_SUBSTRINGS if s in text_lower] if p["c4_drop_policy_lines"] else []
    kept, kept_words, sentences, lorem, curly = [], [], 0, False, False
    for raw, tokens in zip(f.lines, f.line_words):
        line = raw.strip()
        if 0 <= max_word < len(line) and any(len(w) > max_word for w in line.split()):
            continue
        # split no further than needed to know whether there are min_words words
        few_words = len(line.split(None, min_words - 1)) < min_words
        if citations and "[" in line:
            cleaned = CITATION.sub("", line)
            if cleaned != line:
                line, tokens = cleaned, spacy_tokens(cleaned)
        if terminal and (not line.endswith(END_PUNCTUATION) or line.endswith("...")):
            continue
        if few_words:
            continue
        if check_lorem or check_js or policies:
            lower = line.lower()
            lorem = lorem or (check_lorem and "lorem ipsum" in lower)
            if check_js and "javascript" in lower:
                continue
            curly = curly or (check_curly and "{" in line)
            if any(s in lower for s in policies):
                continue
        else:
            curly = curly or (check_curly and "{" in line)
        sentences += count_sentences(line, tokens, is_symbol)
        kept.append(line)
        kept_words.append(tokens)
    result = f.memo[key] = C4Pass(kept, kept_words, sentences, lorem, curly)
    return result


def clean_features(f: Features, p: Params) -> Features:
    """Features of the text C4 keeps: what FineWeb's rules see after C4 in the FineWeb pipeline."""
    c4 = c4_pass(f, p)
    joined = "\n".join(c4.kept_lines)
    text = joined.strip()
    clean = Features(text)
    if c4.kept_lines and text == joined:  # reuse the tokens of the kept lines
        clean.__dict__["lines"] = c4.kept_lines
        clean.__dict__["line_words"] = c4.kept_words
    return clean


RULES = [
    Rule("c4_lorem_ipsum", lambda f, p: float(c4_pass(f, p).lorem_ipsum), above(None), (),
         "1 when a kept line contains 'lorem ipsum' (the page is placeholder text)."),
    Rule("c4_curly_bracket", lambda f, p: float(c4_pass(f, p).curly_bracket), above(None), (),
         "1 when a kept line contains '{' (the page is likely code)."),
    Rule("c4_min_sentences", lambda f, p: c4_pass(f, p).sentences, below("c4_min_sentences"),
         ("c4_min_sentences", "c4_min_words_per_line", "c4_max_word_length", "c4_drop_no_terminal_punct_lines",
          "c4_drop_javascript_lines", "c4_drop_policy_lines", "c4_remove_citations"),
         "Sentences on the lines C4 keeps."),
]
