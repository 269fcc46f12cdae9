"""Deterministic per-document random streams.

Every document draws from its own ``random.Random`` keyed by (seed, stream,
index), so a document can be regenerated on its own: a duplicate rebuilds its
original's text instead of the generator keeping every text in memory, and
adding a record kind never shifts the content of the others.
"""

import random

# Independent streams: what a page says, how its page is dressed, the plan of
# kinds (and URLs), the classifier training set and the rater training set never share random draws.
CONTENT, PAGE, PLAN, TRAIN, RATINGS = range(5)


def rng_for(seed: int, stream: int, index: int = 0) -> random.Random:
    # Non-overlapping bit fields: index < 2**40, stream < 2**8.
    return random.Random((seed << 48) | (stream << 40) | index)
