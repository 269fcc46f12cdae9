"""Main-content extraction: lexbor (resiliparse) parsing, then a block classifier over its output.

resiliparse's `main_content` heuristics drop most navigation, headers and footers at C speed and
render the rest as minimal HTML; `blocks.py` turns that into blocks (tag, link text), and the
small model of `block_model.py`, trained on the dev sets' tuning halves
(scripts/train_extract_blocks.py), keeps the blocks that are main text. It drops what
resiliparse lets through: share bars, related-article lists, video-player menus, captions,
bylines, sign-up boxes, legal footers. The element a page declares as its article
(`itemprop="articleBody"`, `<article>`, `<main>`) is one of the model's features, not a hard rule
(as a rule it lowered F1 on the tuning halves).

The earlier line rules (a much simplified jusText, Pomikálek 2011: the article spans from the
first long line to the last; short boilerplate-looking lines and repeats go) remain for pages the
model was not made for: pages without a line of prose, and pages where it keeps nothing.

When resiliparse's main-content pass finds (almost) nothing, the whole page's blocks are used
instead (some sites wrap their article in elements it treats as chrome), then also <noscript>
content. The main-content pass takes time quadratic in the DOM's depth (100,000 nested <div>s:
four minutes, in C, where no signal can interrupt it), so pages nested deeper than `max_depth`
skip it and go straight to the whole-page pass, which is linear.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from curate.stages.extract.block_model import LONG, load_model
from curate.stages.extract import blocks as _blocks
from curate.stages.extract.blocks import Blocks, choose_root, mark_roots, parse_blocks, scan, width


@dataclass(frozen=True)
class ExtractOptions:
    long_line_chars: int = 70
    keep_head_lines: int = 1
    min_main_chars: int = 200
    include_comments: bool = False
    # Chromium's HTML parser nests at most 512 levels (kMaximumHTMLParserDOMTreeDepth); no readability test page reaches 64.
    max_depth: int = 512
    method: str = "model"  # "model" (block classifier, the default) or "rules" (line rules)
    model_path: str | None = None  # block model weights (default: block_model.json next to the code)
    threshold: float | None = None  # keep-probability threshold (default: the model's)
    skip: tuple[str, ...] = ()  # CSS selectors of elements the main-content pass skips


_BOILERPLATE = re.compile(
    r"\b(?:share (?:this|on)|follow us|subscribe|sign (?:up|in)|log ?in|newsletter|cookies?|all rights reserved|"
    r"copyright|advertisement|skip to (?:main )?content|loading|please wait|read more|related (?:articles|posts|stories)|"
    r"click here|privacy policy|terms of (?:use|service)|back to top|print this|email this)\b|©",
    re.I,
)


def clean_lines(lines: list[str], opts: ExtractOptions) -> list[str]:
    """The lines of extracted text that are not boilerplate (the hand-written rules, before the block model)."""
    long = [len(line) >= opts.long_line_chars or width(line) >= opts.long_line_chars for line in lines]
    if True in long:
        first = max(0, long.index(True) - opts.keep_head_lines)
        last = len(long) - long[::-1].index(True)
        lines, long = lines[first:last], long[first:last]
    seen: set[str] = set()
    out = []
    for line, is_long in zip(lines, long):
        if not is_long:
            if line in seen or (len(line) < 2 * opts.long_line_chars and _BOILERPLATE.search(line)):
                continue
            seen.add(line)
        out.append(line)
    return out


# A page with at most this many start tags ('<' and a letter: every element comes from one, or is implied by one,
# as the <tbody>/<tr> of nested tables) is cheap for the main-content pass however it nests (measured, 4,096 start
# tags: unclosed <div>s 0.28-0.39 s, <table><td><div> 0.21 s, nested tables twice as deep 0.01 s), below the time
# limit; so the exact depth check (≈0.45-1.1 ms a page that needs it) runs only on larger pages: 0.8 % of the dev
# sets' pages (counting every '<', as before 2026-12-03: 4 %; with 2,048: 26 %).
SAFE_TAG_COUNT = 4096


@functools.cache
def _deeper_than(depth: int) -> str:
    """A CSS selector matching an element with at least `depth` ancestors if the page has one (lexbor matches it in C).

    Only last children are tried (the last child of a deep element's parent is as deep): lexbor matches right
    to left, so most elements fail at once instead of after a walk up to the root (the check cost 30 % less).
    """
    return " > ".join(["*"] * depth + ["*:last-child"])


def too_deep(tree: HTMLTree, max_depth: int, tags: int) -> bool:
    """Whether the page nests elements deeper than `max_depth` (then the main-content pass is skipped).

    A page of few tags is cheap to extract however deep, so the CSS check runs only on pages with more than
    SAFE_TAG_COUNT start tags (`tags`, from blocks.scan).
    """
    return tags > max(SAFE_TAG_COUNT, max_depth) and tree.document.query_selector(_deeper_than(max_depth)) is not None


def page_blocks(tree: HTMLTree, tags: int, opts: ExtractOptions) -> Blocks:
    """The blocks of the page's main content, or of the whole page when the main-content pass finds too little
    (`tags`: the page's number of '<', for the depth guard)."""
    common = dict(preserve_formatting="minimal_html", links=True, alt_texts=False, form_fields=False)
    blocks = Blocks()
    if not too_deep(tree, opts.max_depth, tags):
        blocks = parse_blocks(extract_plain_text(tree, main_content=True, comments=opts.include_comments, noscript=False,
                                                 skip_elements=list(opts.skip) or None, **common))
    if blocks.chars() < opts.min_main_chars:
        # An unclosed <noscript> can swallow the whole page (lexbor parses it as markup, as a browser without
        # scripting would), so the last try reads <noscript> content too.
        for noscript in (False, True):
            whole = parse_blocks(extract_plain_text(tree, main_content=False, noscript=noscript, **common))
            if whole.chars() > blocks.chars():
                blocks = whole
            if blocks.chars() >= opts.min_main_chars:
                break
    return blocks


def rule_lines(tree: HTMLTree, html: str, opts: ExtractOptions) -> list[str]:
    """The line rules alone over plain-text output (method "rules"): the extractor before the block model, at its speed."""
    common = dict(preserve_formatting=True, alt_texts=False, form_fields=False)
    lines: list[str] = []
    if not too_deep(tree, opts.max_depth, scan(html)[0]):
        text = extract_plain_text(tree, main_content=True, comments=opts.include_comments, noscript=False, **common)
        lines = clean_lines([line.strip() for line in text.split("\n") if line.strip()], opts)
    for noscript in (False, True):
        if sum(map(len, lines)) >= opts.min_main_chars:
            break
        text = extract_plain_text(tree, main_content=False, noscript=noscript, **common)
        fallback = clean_lines([line.strip() for line in text.split("\n") if line.strip()], opts)
        if sum(map(len, fallback)) > sum(map(len, lines)):
            lines = fallback
    return lines


def select_lines(blocks: Blocks, probability, threshold: float, opts: ExtractOptions, compiled: bool = True) -> list[str]:
    """The text of the blocks the model keeps."""
    if compiled and _blocks._blockfeat is not None:
        kept = _blocks._blockfeat.select(blocks.texts, probability, threshold, LONG)
        if kept is not None:
            return kept
        compiled = False  # the line rules decide: below
    keep = probability >= threshold
    texts = blocks.texts
    if texts and (not keep.any() or not any(len(t) >= LONG or width(t) >= LONG for t in texts)):
        # Pages without a line of prose (a notice, a menu) or where the model keeps nothing look like no page
        # it learnt from; the line rules keep their text that is not links (a menu-only page ends up empty).
        return clean_lines([t for t, link in zip(texts, blocks.link_chars) if 2 * link < len(t)], opts)
    return [t for t, k in zip(texts, keep.tolist()) if k]


@functools.cache
def _say_block_pass_runs_in_python() -> None:
    """Once per process: the block pass's C module is missing (no C compiler at install), so it runs in Python."""
    from curate.logs import log  # here, not at import: it configures logging, which library users may not want

    log.warning("extract: the C block pass not built (no C compiler when curate was installed): method=model runs "
                "its Python version, same output, about 1.3x slower; `make setup` with gcc installed builds it")


def model_blocks(tree: HTMLTree, html: str, opts: ExtractOptions) -> tuple[Blocks, bool]:
    """The page's blocks with their article marks, and whether the page declares an article element."""
    if _blocks._blockfeat is None:
        _say_block_pass_runs_in_python()
    tags, kinds = scan(html)
    candidates = mark_roots(tree, kinds)
    blocks = page_blocks(tree, tags, opts)
    choose_root(blocks, candidates)
    return blocks, candidates > 0


def extract_main_text(html: str, opts: ExtractOptions, tree: HTMLTree | None = None) -> tuple[str, str | None]:
    """The page's main text (blocks joined by newlines) and its <title> (`tree`: `html` already parsed).

    Method "model" leaves article marker text nodes in `tree` (blocks.mark_roots): parse again to reuse it.
    """
    tree = tree or HTMLTree.parse(html)
    title = (tree.title or "").strip() or None
    if opts.method == "rules":
        return "\n".join(rule_lines(tree, html, opts)), title
    blocks, has_root = model_blocks(tree, html, opts)
    model = load_model(opts.model_path)
    probability = model.probability(blocks, has_root, title and " ".join(title.split()))
    threshold = model.threshold if opts.threshold is None else opts.threshold
    return "\n".join(select_lines(blocks, probability, threshold, opts)), title
