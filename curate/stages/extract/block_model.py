"""A small neural network (one hidden layer, or none) that says which blocks of a page are main text.

Features per block (`block_features`): its width, link density, tag (p, heading, li, pre or bare
line), punctuation and digit ratios, a boilerplate-word match, repeats, where it sits relative to
the page's prose (the first to the last long block), its neighbours' length and link density, the
length of the run of short blocks it belongs to (related-article lists, share bars and footers are
runs of short, link-heavy lines), and whether it lies in the page's declared article. They are
computed for all blocks of a page in a few numpy calls; weights live in `block_model.json` next to
this file, rebuilt from the dev sets' *tuning halves* by `scripts/train_extract_blocks.py`, and a
page is scored in one matrix product.

The features are computed in C (`_blockfeat.features`) when the module is built: the numpy version
below is the reference (tests/test_extract_blockfeat.py checks they are equal), but its ~60 numpy
calls a page cost a few µs each whatever the page's size, which was most of the model's cost over
resiliparse's own.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

import numpy as np

from curate.stages.extract.blocks import Blocks, _blockfeat

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


def is_boilerplate(text: str) -> bool:
    lower = text.lower()
    return not BOILERPLATE_WORDS.isdisjoint(_WORDS.findall(lower)) or any(p in lower for p in BOILERPLATE_PHRASES)


def boilerplate_flags(texts: list[str], candidates: list[bool]) -> list[bool]:
    """is_boilerplate() of each candidate block (False for the others), with one search over the page.

    The words and phrases are looked up once in the candidates' joined text; only the few terms found
    there are then looked for block by block (the phrase regex alone cost ≈4 µs a block).
    """
    chosen = [t for t, c in zip(texts, candidates) if c]
    joined = "\n".join(chosen).lower()
    words = BOILERPLATE_WORDS.intersection(_WORDS.findall(joined))
    terms = tuple(words) + tuple(p for p in BOILERPLATE_PHRASES if p in joined)
    if not terms:
        return [False] * len(texts)
    flags = []
    for t, c in zip(texts, candidates):
        if not c:
            flags.append(False)
            continue
        lower = t.lower()
        flags.append(any(term in lower for term in terms) and is_boilerplate(t))
    return flags


_DATE = re.compile(r"\b\d{1,2}[./-]\s?\d{1,2}[./-]\s?\d{2,4}\b|\b(?:19|20)\d\d\b")

_TAG_CODE = {"p": 0, "h1": 1, "h2": 1, "h3": 1, "h4": 2, "h5": 2, "h6": 2, "li": 3, "pre": 4, "": 5}

FEATURES = (
    "bias", "log_width", "long", "link_frac", "link_heavy", "tag_p", "tag_h1_3", "tag_h4_6", "tag_li", "tag_pre",
    "tag_bare", "punct", "sentence_end", "digits", "boilerplate", "repeat", "before_prose", "after_prose", "position",
    "prev_long", "next_long", "prev_link", "next_link", "headline_slot", "share_of_page", "separators", "date",
    "log_page_width", "long_share", "log_gap_to_prose", "log_short_run", "li_link", "ends_colon", "words",
    "has_root", "in_root", "root_share", "tiny", "root_long", "root_before_prose", "in_title",
)


# Character classes, one table lookup per character of the page's blocks (numpy), counted per block by bincount.
PUNCT, DIGIT, SEP, SPACE, WIDE, NCLASS = 1, 2, 3, 4, 5, 6
_CLASS = np.zeros(0x10000, dtype=np.uint8)
for _chars, _cls in ((".,;:!?。、，；：！？", PUNCT), ("0123456789", DIGIT), ("|»·•›/", SEP), (" ", SPACE)):
    _CLASS[[ord(c) for c in _chars]] = _cls
for _lo, _hi in ((0x1100, 0x11FF), (0x2E80, 0xA4CF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF)):
    _CLASS[_lo:_hi + 1] = WIDE  # CJK, Hangul, full-width forms: a character is about a word (see blocks.width)
for _c in "，；：！？":  # full-width punctuation stays punctuation
    _CLASS[ord(_c)] = PUNCT
_CLASS[ord("。")] = _CLASS[ord("、")] = PUNCT
_ENDS = np.zeros(0x10000, dtype=np.uint8)  # 1: a sentence end, 2: a colon
_ENDS[[ord(c) for c in ".!?。！？\"”»)"]] = 1
_ENDS[ord(":")] = 2


def char_counts(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block: its length, counts of each character class (columns PUNCT..WIDE) and its last character's class."""
    n = len(texts)
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    joined = "\n".join(texts)
    if joined.isascii():
        codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    else:
        codes = np.minimum(np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32), 0xFFFF)
    line = np.cumsum(codes == 10)  # a block's newline counts with the next block, as class 0
    counts = np.bincount(line * NCLASS + _CLASS[codes], minlength=n * NCLASS).reshape(n, NCLASS)
    last = _ENDS[codes[np.cumsum(lens + 1) - 2]]
    return lens.astype(np.float64), counts.astype(np.float64), last


# numpy's log1p of small integers, for the C features: numpy's SIMD log1p and libm's differ in the last
# bit for some values, and the features must be the Python path's to the bit. Wider values: Python path.
_LOG1P_TABLE = np.log1p(np.arange(1 << 16, dtype=np.float64))
if _blockfeat is not None:
    _blockfeat.set_log1p_table(_LOG1P_TABLE)


def block_features(blocks: Blocks, has_root: bool = False, title: str | None = None, compiled: bool = True) -> np.ndarray:
    """One row of FEATURES per block; `title` is the page's <title>, whitespace-collapsed.

    In C unless `compiled` is False or the module is missing (or a block is wider than the log table).
    """
    n = len(blocks)
    if compiled and _blockfeat is not None and n:
        x = np.empty((n, len(FEATURES)))
        if _blockfeat.features(blocks.texts, blocks.tags, blocks.link_chars, blocks.in_root, has_root, title, x):
            return x
    return _block_features_py(blocks, has_root, title)


def _block_features_py(blocks: Blocks, has_root: bool, title: str | None) -> np.ndarray:
    """block_features() in numpy, the reference.

    Character-class counts for all blocks come from a handful of numpy calls on the page's joined
    text; per block, Python only checks short blocks for boilerplate words, blocks with digits for
    a date, and repeats.
    """
    n = len(blocks)
    if not n:
        return np.zeros((0, len(FEATURES)))
    texts = blocks.texts
    lens, counts, last = char_counts(texts)
    size = np.maximum(lens, 1)
    widths = lens + 2 * counts[:, WIDE]
    long = widths >= LONG
    link = np.asarray(blocks.link_chars, dtype=np.float64) / size
    digits, punct, seps = counts[:, DIGIT], counts[:, PUNCT], counts[:, SEP]
    short = (widths < 2 * LONG).tolist()
    short_boiler = np.asarray(boilerplate_flags(texts, short), dtype=np.float64)
    repeat = np.zeros(n)
    date = np.zeros(n)
    in_title = np.zeros(n)
    seen: set[str] = set()
    for i, (t, d, size_i) in enumerate(zip(texts, digits.tolist(), lens.tolist())):
        if t in seen:
            repeat[i] = 1
        else:
            seen.add(t)
        if d >= 4 and _DATE.search(t, 0, 300) is not None:
            date[i] = 1
        if title is not None and size_i >= 15 and t in title:
            in_title[i] = 1
    in_root = np.asarray(blocks.in_root, dtype=np.float64) if blocks.in_root else np.zeros(n)
    longs = np.flatnonzero(long)
    first, last_long = (int(longs[0]), int(longs[-1])) if len(longs) else (n, -1)
    total = max(float(widths.sum()), 1.0)
    # Each block's distance (in blocks) to the nearest long one, and the length of the run of short blocks it is in.
    idx = np.arange(n)
    # the nearest long block before and after each block (running max / min of long blocks' indices)
    before = np.maximum.accumulate(np.where(long, idx, -n))
    after = np.minimum.accumulate(np.where(long, idx, 2 * n)[::-1])[::-1]
    gap = np.minimum(np.minimum(idx - before, after - idx), n).astype(np.float64)
    run_id = np.cumsum(long)  # short blocks between two long ones share an id
    run_len = np.bincount(run_id[~long], minlength=run_id[-1] + 1)
    run = np.where(long, 0, run_len[run_id]).astype(np.float64)
    tag_code = np.fromiter(map(_TAG_CODE.__getitem__, blocks.tags), dtype=np.int64, count=n)
    tag = np.zeros((n, 6))
    tag[idx, tag_code] = 1
    x = np.empty((n, len(FEATURES)))
    x[:, 0] = 1
    x[:, 1] = np.log1p(widths) / 5
    x[:, 2] = long
    x[:, 3] = link
    x[:, 4] = link > 0.5
    x[:, 5:11] = tag
    x[:, 11] = np.minimum(punct / size * 10, 2.0)
    x[:, 12] = last == 1
    x[:, 13] = digits / size
    x[:, 14] = short_boiler
    x[:, 15] = repeat
    x[:, 16] = idx < first
    x[:, 17] = idx > last_long
    x[:, 18] = idx / max(n - 1, 1)
    x[1:, 19] = long[:-1]
    x[0, 19] = 0
    x[:-1, 20] = long[1:]
    x[-1, 20] = 0
    x[1:, 21] = link[:-1]
    x[0, 21] = 1
    x[:-1, 22] = link[1:]
    x[-1, 22] = 1
    x[:, 23] = idx == first - 1
    x[:, 24] = widths / total
    x[:, 25] = np.minimum(seps, 3) / 3
    x[:, 26] = date
    x[:, 27] = math.log1p(total) / 10
    x[:, 28] = len(longs) / n
    x[:, 29] = np.log1p(gap) / 3
    x[:, 30] = np.log1p(run) / 3
    x[:, 31] = tag[:, 3] * (link > 0.5)
    x[:, 32] = last == 2
    x[:, 33] = np.log1p(counts[:, SPACE] + 1) / 5
    x[:, 34] = float(has_root)
    x[:, 35] = in_root
    x[:, 36] = (widths * in_root).sum() / total
    x[:, 37] = lens < 15
    x[:, 38] = in_root * long
    x[:, 39] = in_root * (idx < first)
    x[:, 40] = in_title
    return x


class BlockModel:
    """Standardised features -> one hidden layer (tanh) or none (logistic regression) -> keep probability."""

    def __init__(self, data: dict, source: str = "") -> None:
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{source}: features {data['features']} do not match this code's {FEATURES}")
        self.mean, self.scale = np.asarray(data["mean"]), np.asarray(data["scale"])
        self.layers = [(np.ascontiguousarray(w, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64))
                       for w, b in data["layers"]]
        self.threshold = float(data["threshold"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = (x - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i + 1 < len(self.layers):
                h = np.tanh(h)
        return h[:, 0]

    def probability(self, blocks: Blocks, has_root: bool = False, title: str | None = None, compiled: bool = True) -> np.ndarray:
        if not blocks:
            return np.zeros(0)
        x = block_features(blocks, has_root, title, compiled)
        if compiled and _blockfeat is not None:
            # in C: the same arithmetic in another summation order than numpy's matrix product, and libm's
            # tanh/exp for numpy's: probabilities within ~1e-15 of numpy's (tests/test_extract_blockfeat.py)
            p = np.empty(len(x))
            _blockfeat.mlp(x, self.mean, self.scale, self.layers, p)
            return p
        return 1.0 / (1.0 + np.exp(-self.logits(x)))


@functools.cache
def load_model(path: str | None = None) -> BlockModel:
    path = str(path or MODEL_PATH)
    return BlockModel(json.loads(Path(path).read_text()), path)
