"""The educational-value level each kind of sample page has by construction (0-5, the `edu` scale).

The sample's pages are generated, so their quality is known without an annotator: spam and link
lists teach nothing (0), error and login stubs almost nothing (1), the template news-style articles
carry some general information (2), and code tutorials are written to teach (4). labels.jsonl
records each page's level (`edu_level`), and train/ratings.jsonl holds separately drawn texts with
their levels, from which `make demo` trains its demo rater. A demo only: real ratings come from
annotating real pages (curate annotate).
"""

import random

from . import content
from .seeding import RATINGS, rng_for

EDU_LEVEL = {
    "spam": 0, "boilerplate": 0, "binary_as_html": 0, "short": 1,
    "article": 2, "bad_utf8": 2, "huge": 2, "exact_duplicate": 2, "near_duplicate": 2, "foreign_article": 2,
    "code": 4,
}
PER_LEVEL_PER_400_DOCS = 60
MIN_EXAMPLES, MAX_EXAMPLES = 60, 5_000


def edu_level(kind: str) -> int | None:
    return EDU_LEVEL.get(kind)


def _text(kind: str, rng: random.Random, seed: int) -> str:
    if kind == "spam":
        return content.spam(rng).gold
    if kind == "boilerplate":
        return content.category_index(rng, seed).gold
    if kind == "short":
        return content.short(rng, seed).gold
    if kind == "code":
        return content.code_tutorial(rng, seed).gold
    if kind == "foreign_article":
        return content.foreign_article(rng, rng.choice(["de", "fr", "es", "it", "nl"])).gold
    return content.article(rng, seed).gold


def rating_examples(docs: int, seed: int) -> list[dict]:
    """{"id", "text", "source", "kind", "edu"} records, about the same number per kind."""
    per_kind = max(MIN_EXAMPLES, min(MAX_EXAMPLES, round(docs * PER_LEVEL_PER_400_DOCS / 400)))
    kinds = ["spam", "boilerplate", "short", "article", "foreign_article", "code"]
    out = []
    for i in range(per_kind * len(kinds)):
        kind = kinds[i % len(kinds)]
        rng = rng_for(seed, RATINGS, i)
        out.append({"id": f"rating-{i}", "text": _text(kind, rng, seed), "source": "curate-sample-ratings",
                    "kind": kind, "edu": EDU_LEVEL[kind]})
    return out
