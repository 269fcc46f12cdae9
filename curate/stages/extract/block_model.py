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

from curate.stages.extract.blocks import _WIDE, Block

MODEL_PATH = Path(__file__).with_name("block_model.json")
LONG = 70  # a block at least this wide is prose

# Words and phrases of share bars, sign-up boxes, legal footers, comment and related-article headings (a
# set lookup and one search for the phrases: a case-insensitive regex with word boundaries cost 30 µs a block).
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
_PHRASES = re.compile("|".join(map(re.escape, BOILERPLATE_PHRASES)))


def is_boilerplate(text: str) -> bool:
    lower = text.lower()
    return not BOILERPLATE_WORDS.isdisjoint(_WORDS.findall(lower)) or _PHRASES.search(lower) is not None


_SENTENCE_END = tuple(".!?。！？\"”»)")
_DATE = re.compile(r"\b\d{1,2}[./-]\s?\d{1,2}[./-]\s?\d{2,4}\b|\b(?:19|20)\d\d\b")

FEATURES = (
    "bias", "log_width", "long", "link_frac", "link_heavy", "tag_p", "tag_h1_3", "tag_h4_6", "tag_li", "tag_pre",
    "tag_bare", "punct", "sentence_end", "digits", "boilerplate", "repeat", "before_prose", "after_prose", "position",
    "prev_long", "next_long", "prev_link", "next_link", "headline_slot", "share_of_page", "separators", "date",
    "log_page_width", "long_share", "log_gap_to_prose", "log_short_run", "li_link", "ends_colon", "words",
    "has_root", "in_root", "root_share", "tiny", "root_long", "root_before_prose", "in_title",
)


# One translate call marks punctuation, digits and separators with control characters extracted text never has.
_CLASSES = str.maketrans({**dict.fromkeys(".,;:!?。、，；：！？", "\x01"), **dict.fromkeys("0123456789", "\x02"),
                          **dict.fromkeys("|»·•›/", "\x03")})


def block_features(blocks: list[Block], has_root: bool = False, title: str | None = None) -> np.ndarray:
    """One row of FEATURES per block; `title` is the page's <title>, whitespace-collapsed.

    Per block, a few C-level string calls on its first 300 characters (ratios of prose are the same
    over its head, so the cost stays flat on 50 KB blocks); the columns are then numpy arithmetic.
    """
    n = len(blocks)
    texts = [b.text for b in blocks]
    lens = np.fromiter(map(len, texts), dtype=np.float64, count=n)
    heads = [t[:300] for t in texts]
    marked = [h.translate(_CLASSES) for h in heads]
    widths = lens.copy()
    for i, t in enumerate(texts):
        if not t.isascii():  # CJK characters count three, estimated from the head on long blocks
            widths[i] += 2 * len(_WIDE.findall(heads[i])) * len(t) / max(len(heads[i]), 1)
    long = widths >= LONG
    link = np.fromiter((b.link_chars for b in blocks), dtype=np.float64, count=n) / np.maximum(lens, 1)
    size = np.maximum(np.fromiter(map(len, heads), dtype=np.float64, count=n), 1)
    digits = np.fromiter((m.count("\x02") for m in marked), dtype=np.float64, count=n)
    punct = np.fromiter((m.count("\x01") for m in marked), dtype=np.float64, count=n)
    seps = np.fromiter((m.count("\x03") for m in marked), dtype=np.float64, count=n)
    tags = [b.tag for b in blocks]
    seen: set[str] = set()
    repeat = np.zeros(n)
    for i, t in enumerate(texts):
        repeat[i] = t in seen
        seen.add(t)
    short_boiler = np.fromiter((w < 2 * LONG and is_boilerplate(t) for w, t in zip(widths, texts)), dtype=np.float64, count=n)
    date = np.fromiter((d >= 4 and _DATE.search(h) is not None for d, h in zip(digits, heads)), dtype=np.float64, count=n)
    in_root = np.fromiter((b.in_root for b in blocks), dtype=np.float64, count=n)
    longs = np.flatnonzero(long)
    first, last = (int(longs[0]), int(longs[-1])) if len(longs) else (n, -1)
    total = max(float(widths.sum()), 1.0)
    # Each block's distance (in blocks) to the nearest long one, and the length of the run of short blocks it is in.
    idx = np.arange(n)
    gap = np.full(n, float(n))
    if len(longs):
        pos = np.searchsorted(longs, idx)
        after = np.where(pos < len(longs), longs[np.minimum(pos, len(longs) - 1)] - idx, n)
        before = np.where(pos > 0, idx - longs[np.maximum(pos - 1, 0)], n)
        gap = np.minimum(after, before).astype(np.float64)
    run_id = np.cumsum(long)  # short blocks between two long ones share an id
    run_len = np.bincount(run_id[~long], minlength=run_id[-1] + 1 if n else 1) if n else np.zeros(0)
    run = np.where(long, 0, run_len[run_id] if n else 0).astype(np.float64)
    prev_long = np.concatenate(([False], long[:-1])) if n else long
    next_long = np.concatenate((long[1:], [False])) if n else long
    prev_link = np.concatenate(([1.0], link[:-1])) if n else link
    next_link = np.concatenate((link[1:], [1.0])) if n else link
    ones = np.ones(n)
    is_tag = {name: np.fromiter((t in name for t in tags), dtype=np.float64, count=n)
              for name in (("p",), ("h1", "h2", "h3"), ("h4", "h5", "h6"), ("li",), ("pre",), ("",))}
    spaces = np.fromiter((t.count(" ") for t in texts), dtype=np.float64, count=n)
    cols = [
        ones, np.log1p(widths) / 5, long, link, link > 0.5,
        is_tag[("p",)], is_tag[("h1", "h2", "h3")], is_tag[("h4", "h5", "h6")], is_tag[("li",)], is_tag[("pre",)], is_tag[("",)],
        np.minimum(punct / size * 10, 2.0), np.fromiter((t.endswith(_SENTENCE_END) for t in texts), dtype=np.float64, count=n),
        digits / size, short_boiler, repeat,
        idx < first, idx > last, idx / max(n - 1, 1),
        prev_long, next_long, prev_link, next_link,
        idx == first - 1, widths / total, np.minimum(seps, 3) / 3, date,
        ones * (math.log1p(total) / 10), ones * (len(longs) / max(n, 1)), np.log1p(gap) / 3, np.log1p(run) / 3,
        is_tag[("li",)] * (link > 0.5), np.fromiter((t.endswith(":") for t in texts), dtype=np.float64, count=n),
        np.log1p(spaces + 1) / 5,
        ones * float(has_root), in_root, ones * float((widths * in_root).sum() / total), lens < 15, in_root * long,
        in_root * (idx < first),
        np.fromiter((title is not None and len(t) >= 15 and t in title for t in texts), dtype=np.float64, count=n),
    ]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in cols]) if n else np.zeros((0, len(FEATURES)))


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
