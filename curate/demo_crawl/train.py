"""Labelled examples for the demo's fastText quality classifier.

Drawn from their own random stream, so no training example is a copy of a
page in the crawl. Positives are clean English articles; negatives are what
the classifier should learn to reject: spam, page furniture, junk pages.
"""

import random

from . import content, snippets
from .seeding import TRAIN, rng_for

# ~150 per class for the default 400 pages, scaled with the crawl and capped
# because a classifier needs no more than that for this demo.
PER_400_DOCS = 150
MIN_EXAMPLES, MAX_EXAMPLES = 20, 20_000


def examples_per_class(docs: int) -> int:
    return max(MIN_EXAMPLES, min(MAX_EXAMPLES, round(docs * PER_400_DOCS / 400)))


def _furniture_text(rng: random.Random, seed: int) -> str:
    lines = [" ".join(snippets.NAV_EN), rng.choice(snippets.COOKIE_BANNERS), *snippets.SHARE_LINES,
             *snippets.NEWSLETTER[:2], *content.link_titles(rng, seed, rng.randint(5, 15)),
             "Copyright 2024. All rights reserved.", " | ".join(snippets.FOOTER_LINKS)]
    rng.shuffle(lines)
    return "\n".join(lines)


def negative_text(rng: random.Random, seed: int) -> str:
    r = rng.random()
    if r < 0.5:
        return content.spam(rng).gold
    if r < 0.8:
        return _furniture_text(rng, seed)
    if r < 0.9:
        return content.category_index(rng, seed).gold
    return content.short(rng, seed).gold


def examples(docs: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(positives, negatives) as {"id", "text", "source"} records."""
    n = examples_per_class(docs)
    positives, negatives = [], []
    for i in range(n):
        rng = rng_for(seed, TRAIN, 2 * i)
        positives.append({"id": f"train-pos-{i}", "text": content.article(rng, seed).gold,
                          "source": "curate-sample-train"})
        rng = rng_for(seed, TRAIN, 2 * i + 1)
        negatives.append({"id": f"train-neg-{i}", "text": negative_text(rng, seed),
                          "source": "curate-sample-train"})
    return positives, negatives
