"""Blocks of a page's extracted text with what tells main text from boilerplate.

resiliparse renders the main-content text as "minimal HTML" (`<p>`, `<h1>`–`<h6>`, `<li>`,
`<pre>`, `<a>` kept, everything else flattened to lines) in C, at the cost of plain text. Each
output line becomes a block that remembers the tag it sits in, how much of it is link text and
which of the page's declared article elements it lies in, so the block features jusText and
trafilatura compute on the DOM come from one cheap pass over a few dozen lines, not a Python
DOM walk. The blocks are kept as parallel lists (one Python object per block: its text), which
`block_model.block_features` turns into numpy columns in a few calls per page.

The article elements are found in the DOM before extraction (`mark_roots`): a start and an end
marker text node is put inside each, and resiliparse carries them into its output like any text,
so a block's place inside an article costs one regex per line that holds a marker, instead of
the article's whole text as a Python string and a substring search per block.

The line loop runs in C (`_blockfeat.parse`, built by `pip install`) when the module is there; the
Python loop below is the reference it is tested against, and what runs without a C compiler.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from resiliparse.parse.html import HTMLTree

try:
    from curate.stages.extract import _blockfeat
except ImportError:  # no C compiler at install time: the Python loops run (boilerplate.py logs it once)
    _blockfeat = None

_BLOCK_EVENT = re.compile(r"<(/?)(p|h[1-6]|li|pre)\b")
_LINK = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S)
_ANY_TAG = re.compile(r"<[^>]+>")
_BLOCK_TAGS = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre"))
_WIDE = re.compile(r"[\u1100-\u11ff\u2e80-\ua4cf\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")

# Article markers: "\x1e<i>\x1e" opens candidate i, "\x1f<i>\x1f" closes it. Control characters that
# extracted text never carries (html.py rejects pages with many control bytes), and resiliparse keeps them.
_MARK = re.compile(r"([\x1e\x1f])(\d{1,2})\1")
MAX_ROOTS = 8  # teaser lists can hold hundreds of <article>s; the article is among the first ones


@dataclass(slots=True)
class Blocks:
    texts: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # innermost of p/h1..h6/li/pre the line sits in, "" for a bare line
    link_chars: list[int] = field(default_factory=list)  # characters of the text inside <a>
    roots: list[int] = field(default_factory=list)  # bit i set: the block lies inside article candidate i
    in_root: list[bool] = field(default_factory=list)  # inside the chosen article (set by choose_root)

    def __len__(self) -> int:
        return len(self.texts)

    def chars(self) -> int:
        return sum(map(len, self.texts))


def width(line: str) -> int:
    """Length in Latin-character equivalents (a CJK character counts three, about a word's worth)."""
    return len(line) if line.isascii() else len(line) + 2 * len(_WIDE.findall(line))


# Elements that declare the article, strongest first: schema.org's articleBody, <article>, <main>, role=main.
_ROOTS = (("attr", "itemprop", "articleBody"), ("tag", "article"), ("tag", "main"), ("attr", "role", "main"))
ANY_ROOT = (1 << len(_ROOTS)) - 1

_START_TAG = re.compile(r"<[A-Za-z]")
# scan()'s Python version (what runs without the C module): bit i set when the page's text may hold _ROOTS[i].
_HINTS = (re.compile(r"=[\t\n\f\r ]*[\"']?articleBody"), re.compile(r"<article(?:[\t\n\f\r />]|\Z)", re.I | re.A),
          re.compile(r"<main(?:[\t\n\f\r />]|\Z)", re.I | re.A), re.compile(r"(?i:role)[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?main", re.A))


def scan(html: str, compiled: bool = True) -> tuple[int, int]:
    """One look at the page's text before it is parsed: its number of start tags ('<' and an ASCII letter, as HTML's
    tokenizer opens a tag; the depth guard's count) and which kinds of article element it may declare (bit i:
    _ROOTS[i]; clear: lexbor's walk for it would find nothing).

    lexbor compares attribute values exactly and case-sensitively, so the text must hold them as they are, after '='
    (a value spelt with character references is not seen); tag and attribute names in any case.
    """
    if compiled and _blockfeat is not None:
        return _blockfeat.scan(html)
    return len(_START_TAG.findall(html)), sum(1 << i for i, rx in enumerate(_HINTS) if rx.search(html))


def _root_candidates(doc, kinds: int):
    """The elements of the strongest kind the page has and how many (lexbor's by-tag and by-attribute walks, only
    for the kinds in the `kinds` bits: a CSS selector query over the same DOM cost 3-8x more; `len` makes the walk,
    so it is taken once)."""
    for i, (kind, *args) in enumerate(_ROOTS):
        if not kinds >> i & 1:
            continue
        found = doc.get_elements_by_attr(*args) if kind == "attr" else doc.get_elements_by_tag_name(*args)
        count = len(found)
        if count:
            return found, count
    return (), 0


def mark_roots(tree: HTMLTree, kinds: int = ANY_ROOT) -> int:
    """Put markers inside the elements the page declares as its article; the number of candidates marked.

    `kinds`: the bits of scan() (which kinds of element the page's text may hold; by default all are looked for).
    Several <article>s (a teaser list, related posts): `choose_root` later takes the one with the most
    extracted text.
    """
    found, count = _root_candidates(tree.document, kinds)
    count = min(count, MAX_ROOTS)
    text_node = tree.create_text_node
    for i in range(count):  # indexing, not slicing: a slice of lexbor's collection is another collection built
        el = found[i]
        el.prepend(text_node(_MARKERS[i][0]))
        el.append(text_node(_MARKERS[i][1]))
    return count


_MARKERS = [(f"\x1e{i}\x1e", f"\x1f{i}\x1f") for i in range(MAX_ROOTS)]


def choose_root(blocks: Blocks, candidates: int, compiled: bool = True) -> None:
    """Mark the blocks of the candidate article holding the most text (none when nothing was marked)."""
    if compiled and _blockfeat is not None and candidates <= 64:
        blocks.in_root = _blockfeat.choose_root(blocks.texts, blocks.roots, candidates)
        return
    if not candidates or not any(blocks.roots):
        blocks.in_root = [False] * len(blocks)
        return
    size = [0] * candidates
    marked = (1 << candidates) - 1  # a page's own text can hold marker-like characters with higher numbers
    for text, mask in zip(blocks.texts, blocks.roots):
        mask &= marked
        i = 0
        while mask:
            if mask & 1:
                size[i] += len(text)
            mask >>= 1
            i += 1
    bit = 1 << max(range(candidates), key=size.__getitem__)
    blocks.in_root = [bool(m & bit) for m in blocks.roots]


def parse_blocks(minimal_html: str, compiled: bool = True) -> Blocks:
    """The non-empty lines of resiliparse's minimal-HTML output, as blocks.

    Tags, markers and entities go in one pass over the whole output (C regex and html.unescape);
    the loop over lines only follows block tags and link text, on the lines that have tags
    (in C unless `compiled` is False or the module is missing).
    """
    if compiled and _blockfeat is not None:
        parsed = _blockfeat.parse(minimal_html, html.unescape)
        if parsed is not None:  # None: a tag or an entity spanning lines, which the code below handles
            return Blocks(*parsed)
    plain = _ANY_TAG.sub("", minimal_html) if "<" in minimal_html else minimal_html
    marked = "\x1e" in plain or "\x1f" in plain
    if marked:
        plain = _MARK.sub("", plain)
    if "&" in plain:
        plain = html.unescape(plain)
        if "\n" not in minimal_html and "\n" in plain:  # an entity for a newline (&#10;): one line, as it was
            plain = plain.replace("\n", " ")
    raw = minimal_html.split("\n")
    lines = plain.split("\n")
    if len(lines) != len(raw):  # a tag or an entity spanning lines: line by line instead
        return _parse_lines(raw, compiled)
    out = Blocks()
    texts, tags, links, roots = out.texts, out.tags, out.link_chars, out.roots
    open_tags: list[str] = []
    inside = 0  # bit mask of the article candidates open at this point
    for line, text in zip(raw, lines):
        if not line:
            continue
        mask = inside
        if marked and ("\x1e" in line or "\x1f" in line):
            for kind, i in _MARK.findall(line):
                if kind == "\x1e":
                    inside |= 1 << int(i)
                    mask |= 1 << int(i)
                else:
                    inside &= ~(1 << int(i))
        tag = open_tags[-1] if open_tags else ""
        link = 0
        if "<" in line:
            if "<a" in line:
                link = sum(map(len, _LINK.findall(line)))
            for closing, name in _BLOCK_EVENT.findall(line):
                if closing:
                    if name in open_tags:
                        del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name):]
                else:
                    if not tag or tag not in _BLOCK_TAGS or line.lstrip().startswith("<" + name):
                        tag = name
                    open_tags.append(name)
        text = text.strip()
        if text:
            texts.append(text)
            tags.append(tag)
            links.append(min(link, len(text)))
            roots.append(mask)
    return out


def _parse_lines(raw: list[str], compiled: bool) -> Blocks:
    """parse_blocks() line by line (a tag spanning lines is cut at the line's end)."""
    out = Blocks()
    for line in raw:
        one = parse_blocks(line, compiled)
        out.texts += one.texts
        out.tags += one.tags
        out.link_chars += one.link_chars
        out.roots += one.roots
    return out
