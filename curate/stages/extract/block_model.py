"""A small logistic-regression model that says which blocks of a page are main text.

Features per block (`block_features`): its width, link density, tag (p, heading, li, pre or bare
line), punctuation and digit ratios, a boilerplate-phrase match, repeats, where it sits
relative to the page's prose (the first to the last long block), its neighbours' length and
link density, and the length of the run of short blocks it belongs to (related-article lists,
share bars and footers are runs of short, link-heavy lines). Weights live in
`block_model.json` next to this file, rebuilt from the dev sets' *tuning halves* by
`scripts/train_extract_blocks.py`; scoring is a dot product per block, in numpy.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

import numpy as np

from curate.stages.extract.blocks import Block, width

MODEL_PATH = Path(__file__).with_name("block_model.json")
LONG = 70  # a block at least this wide is prose

# Words and phrases of share bars, sign-up boxes, legal footers, comment and related-article headings (a
# set lookup and substring tests: a regex alternation of these costs 30 µs a block, more than all else).
BOILERPLATE_WORDS = frozenset(
    "subscribe newsletter cookie cookies copyright advertisement loading login comment comments tags tag categories "
    "category photo image credit getty reuters teilen weiterlesen datenschutz impressum kommentar kommentare partager "
    "commentaire commentaires suivez compartir comentarios".split()
)
BOILERPLATE_PHRASES = (
    "share this", "share on", "follow us", "sign up", "sign in", "log in", "all rights reserved", "skip to", "please wait",
    "read more", "related articles", "related posts", "related stories", "click here", "privacy policy", "terms of use",
    "terms of service", "back to top", "print this", "email this", "posted by", "posted in", "posted on", "mehr zum thema",
    "lesen sie auch", "©",
)
_WORDS = re.compile(r"\w+")


def is_boilerplate(text: str) -> bool:
    lower = text.lower()
    return not BOILERPLATE_WORDS.isdisjoint(_WORDS.findall(lower)) or any(p in lower for p in BOILERPLATE_PHRASES)


_PUNCT = re.compile(r"[.,;:!?。、，；：！？]")
_SENTENCE_END = tuple(".!?。！？\"”»)")
_DIGIT = re.compile(r"\d")
_SEPARATOR = re.compile(r"[|»·•›/]")
_DATE = re.compile(r"\b\d{1,2}[./-]\s?\d{1,2}[./-]\s?\d{2,4}\b|\b(?:19|20)\d\d\b")

FEATURES = (
    "bias", "log_width", "long", "link_frac", "link_heavy", "tag_p", "tag_h1_3", "tag_h4_6", "tag_li", "tag_pre",
    "tag_bare", "punct", "sentence_end", "digits", "boilerplate", "repeat", "before_prose", "after_prose", "position",
    "prev_long", "next_long", "prev_link", "next_link", "headline_slot", "share_of_page", "separators", "date",
    "log_page_width", "long_share", "log_gap_to_prose", "log_short_run", "li_link", "ends_colon", "words",
    "has_root", "in_root", "root_share", "tiny", "root_long", "root_before_prose", "in_title",
)


def block_features(blocks: list[Block], has_root: bool = False, title: str | None = None) -> np.ndarray:
    """One row of FEATURES per block; `title` is the page's <title>, whitespace-collapsed."""
    n = len(blocks)
    widths = [width(b.text) for b in blocks]
    long = [w >= LONG for w in widths]
    link = [b.link_chars / max(len(b.text), 1) for b in blocks]
    longs = [i for i, x in enumerate(long) if x]
    first, last = (longs[0], longs[-1]) if longs else (n, -1)
    total = max(sum(widths), 1)
    # Runs of consecutive short blocks, and each block's distance (in blocks) to the nearest long one.
    run = [0] * n
    i = 0
    while i < n:
        j = i
        while j < n and not long[j]:
            j += 1
        for k in range(i, j):
            run[k] = j - i
        i = max(j, i + 1)
    gap = [n] * n
    d = n
    for i in range(n):
        d = 0 if long[i] else d + 1
        gap[i] = d
    d = n
    for i in range(n - 1, -1, -1):
        d = 0 if long[i] else d + 1
        gap[i] = min(gap[i], d)
    seen: set[str] = set()
    rows = []
    log_page, long_share = math.log1p(total) / 10, len(longs) / max(n, 1)
    root_share = sum(w for w, b in zip(widths, blocks) if b.in_root) / total
    for i, b in enumerate(blocks):
        t, w, tag = b.text, widths[i], b.tag
        # Character ratios from the first 300 characters: the same figure for prose, linear cost capped.
        head = t[:300]
        size = max(len(head), 1)
        digits = len(_DIGIT.findall(head))
        repeat = t in seen
        seen.add(t)
        rows.append((
            1.0, math.log1p(w) / 5, float(long[i]), link[i], float(link[i] > 0.5),
            float(tag == "p"), float(tag in ("h1", "h2", "h3")), float(tag in ("h4", "h5", "h6")), float(tag == "li"),
            float(tag == "pre"), float(tag == ""),
            min(len(_PUNCT.findall(head)) / size * 10, 2.0), float(t.endswith(_SENTENCE_END)),
            digits / size, float(w < 2 * LONG and is_boilerplate(t)), float(repeat),
            float(i < first), float(i > last), i / max(n - 1, 1),
            float(i > 0 and long[i - 1]), float(i + 1 < n and long[i + 1]),
            link[i - 1] if i > 0 else 1.0, link[i + 1] if i + 1 < n else 1.0,
            float(i == first - 1), w / total, min(len(_SEPARATOR.findall(head)), 3) / 3, float(digits >= 4 and _DATE.search(head) is not None),
            log_page, long_share, math.log1p(gap[i]) / 3, math.log1p(run[i]) / 3, float(tag == "li" and link[i] > 0.5),
            float(t.endswith(":")), math.log1p(t.count(" ") + 1) / 5,
            float(has_root), float(b.in_root), root_share, float(len(t) < 15), float(b.in_root and long[i]),
            float(b.in_root and i < first), float(title is not None and len(t) >= 15 and t in title),
        ))
    return np.asarray(rows, dtype=np.float64).reshape(n, len(FEATURES))


class BlockModel:
    """Standardised features -> one hidden layer (tanh) or none (logistic regression) -> keep probability."""

    def __init__(self, data: dict, source: str = "") -> None:
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{source}: features {data['features']} do not match this code's {FEATURES}")
        self.mean, self.scale = np.asarray(data["mean"]), np.asarray(data["scale"])
        self.layers = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)) for w, b in data["layers"]]
        self.threshold = float(data["threshold"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = (x - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i + 1 < len(self.layers):
                h = np.tanh(h)
        return h[:, 0]

    def probability(self, blocks: list[Block], has_root: bool = False, title: str | None = None) -> np.ndarray:
        if not blocks:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-self.logits(block_features(blocks, has_root, title))))


@functools.cache
def load_model(path: str | None = None) -> BlockModel:
    path = str(path or MODEL_PATH)
    return BlockModel(json.loads(Path(path).read_text()), path)
