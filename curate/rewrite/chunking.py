"""Splitting a document into chunks that fit a style's input budget, at newline boundaries.

Segments are the document's lines (`text.split("\\n")`), so `"\\n".join(chunks) == text`: every
paragraph lands in exactly one chunk, in order, and ingest can put the rewrites back together in
the same order. Adjacent segments are packed greedily while the chunk stays within the budget
(each joining newline counts as one token). A segment that alone exceeds the budget cannot be
split at a newline: depending on the policy the document is skipped, or the segment is sent as a
chunk of its own (the request then exceeds the style's input limit); either way it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.rewrite.tokens import TokenCounter


@dataclass
class Chunking:
    """A document cut into chunks: their texts, token counts, and the segments over budget."""

    chunks: list[str]
    tokens: list[int]
    oversize: list[int] = field(default_factory=list)  # indexes of segments larger than the budget

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens)


def pack(segment_tokens: list[int], budget: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Greedy packing of adjacent segments: [(start, end)) ranges covering every segment once,
    and the indexes of segments that alone exceed `budget` (each gets a range of its own).

    Blank segments (0 tokens) cost nothing and join whichever chunk is open, so no chunk is
    only blank lines (nothing worth a request) unless the whole text is.
    """
    ranges: list[tuple[int, int]] = []
    oversize: list[int] = []
    start, used = 0, 0  # tokens in the open chunk [start, i)
    for i, n in enumerate(segment_tokens):
        if n > budget:
            if used > 0:
                ranges.append((start, i))
                start = i
            ranges.append((start, i + 1))  # leading blank lines ride along with it
            oversize.append(i)
            start, used = i + 1, 0
            continue
        if n == 0:
            continue
        cost = n + (1 if used > 0 else 0)  # the joining newline
        if used > 0 and used + cost > budget:
            ranges.append((start, i))
            start, used = i, n
        else:
            used += cost
    if start < len(segment_tokens):
        if used == 0 and ranges:  # only blank lines left: they close the last chunk
            ranges[-1] = (ranges[-1][0], len(segment_tokens))
        else:
            ranges.append((start, len(segment_tokens)))
    return ranges, oversize


def chunk_tokens(seg_tokens: list[int]) -> int:
    """Tokens of segments joined by newlines, counted as `pack` counts them."""
    non_blank = len(seg_tokens) - seg_tokens.count(0)
    return sum(seg_tokens) + (non_blank - 1 if non_blank else 0)


def chunk_text(text: str, budget: int, counter: TokenCounter, language: str | None = None) -> Chunking:
    """Cut `text` into chunks of at most `budget` tokens at newline boundaries."""
    segments = text.split("\n")
    seg_tokens = counter.count_many(segments, language)
    ranges, oversize = pack(seg_tokens, budget)
    chunks = ["\n".join(segments[a:b]) for a, b in ranges]
    tokens = [chunk_tokens(seg_tokens[a:b]) for a, b in ranges]
    return Chunking(chunks, tokens, oversize)
