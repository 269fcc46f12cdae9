"""A reproducible, stratified sample of documents to annotate.

Each document gets a pseudo-random key from a hash of (seed, id); per stratum (the value of the
`--by` column, e.g. source, language, domain) the documents with the smallest keys are kept, so the
sample is the same on every run, independent of shard order, and memory holds at most N documents
per stratum. The N requested are split equally over strata; a stratum with fewer documents gives
all it has and the rest goes to the others (small sources are not drowned by large ones).
"""

from __future__ import annotations

import heapq
from collections import Counter

import xxhash

from curate.inputs import resolve_inputs
from curate.records import ID, TEXT, is_rejected
from curate.shards import SHARD_SUFFIXES, read_shard
from curate.stage import StageError

MISSING = "(none)"


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Equal shares of n over strata, capped by each stratum's size, leftovers redistributed."""
    take = {s: 0 for s in sizes}
    left = n
    open_strata = sorted(s for s in sizes if sizes[s] > 0)
    while left > 0 and open_strata:
        share, extra = divmod(left, len(open_strata))
        for i, s in enumerate(open_strata):
            add = min(share + (i < extra), sizes[s] - take[s])
            take[s] += add
            left -= add
        open_strata = [s for s in open_strata if take[s] < sizes[s]]
    return take


def stratified_sample(inputs: list[str], n: int, by: str | None = None, seed: int = 0) -> tuple[list[dict], dict]:
    """(documents, report): up to n documents with text, stratified by column `by` (None: one stratum)."""
    if n < 1:
        raise StageError("--sample must be at least 1")
    heaps: dict[str, list] = {}
    sizes: Counter = Counter()
    seen_column = by is None
    for shard in resolve_inputs(inputs, SHARD_SUFFIXES):
        for row, doc in enumerate(read_shard(shard.path, shard.name, shard.source)):
            if is_rejected(doc) or not isinstance(doc.get(TEXT), str) or not doc[TEXT].strip():
                continue
            if by is not None and by in doc:
                seen_column = True
            stratum = MISSING if by is None or doc.get(by) is None else str(doc.get(by))
            sizes[stratum] += 1
            doc_id = str(doc.get(ID) or f"{shard.name}:{row}")
            key = xxhash.xxh3_64_intdigest(f"{seed}:{doc_id}")
            heap = heaps.setdefault(stratum, [])
            item = (-key, doc_id, -sizes[stratum], doc)  # max-heap on key: the largest key is dropped first
            if len(heap) < n:
                heapq.heappush(heap, item)
            elif -heap[0][0] > key:
                heapq.heapreplace(heap, item)
    if not sizes:
        raise StageError(f"no documents with text in {', '.join(inputs)}")
    if not seen_column:
        raise StageError(f"no document has the column {by!r} to stratify by")
    take = allocate(dict(sizes), n)
    sample = []
    for stratum in sorted(heaps):
        chosen = sorted(heaps[stratum], key=lambda item: -item[0])[: take[stratum]]
        for *_, doc in chosen:
            doc["_stratum"] = stratum
            sample.append(doc)
    report = {"by": by, "available": dict(sorted(sizes.items())), "sampled": {s: take[s] for s in sorted(take)}}
    return sample, report
