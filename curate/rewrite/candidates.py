"""Reading the export's input and making the cheap decisions before a document is fully built.

Most documents of a crawl are not queued (outside the band, sampled out by the budget). For
Parquet, only the columns those decisions need (id, score, bucket) are turned into Python values
first; the whole row, text included, is built only for documents that pass. This keeps the
export near the cost of reading its input (see scripts/bench_rewrite.py). JSONL goes through
curate's shard reader, whose bad records become `unreadable` here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from curate.inputs import InputShard
from curate.records import ID, REJECT_REASON, SOURCE, TEXT, URL
from curate.rewrite.select import Selector
from curate.shards import PARQUET_SUFFIXES, read_shard

BATCH_ROWS = 16_384


def candidates(shard: InputShard, selector: Selector, reasons: Counter) -> Iterator[tuple[dict, list[str]]]:
    """(document, its style names) for every document that passes the cheap checks; the others
    are counted in `reasons`: unreadable, empty_text, the policy's band/route reasons, sampled_out."""
    if shard.path is not None and shard.path.name.endswith(PARQUET_SUFFIXES):
        yield from _parquet(shard, selector, reasons)
        return
    for doc in read_shard(shard.path, shard.name, shard.source):
        reasons["read"] += 1
        if doc.get(REJECT_REASON):
            reasons["unreadable"] += 1
            continue
        decided = _decide(doc, selector, reasons)
        if decided is not None:
            yield doc, decided


def _decide(doc: dict, selector: Selector, reasons: Counter) -> list[str] | None:
    text = doc.get(TEXT)
    if not isinstance(text, str):
        reasons["unreadable"] += 1
        return None
    if not text.strip():
        reasons["empty_text"] += 1
        return None
    names, why = selector.styles_for(doc)
    if names is None:
        reasons[why] += 1
        return None
    if not selector.sampled(str(doc[ID])):
        reasons["sampled_out"] += 1
        return None
    return names


def _parquet(shard: InputShard, selector: Selector, reasons: Counter) -> Iterator[tuple[dict, list[str]]]:
    p = selector.policy
    try:
        pf = pq.ParquetFile(shard.path)
    except (pa.ArrowException, OSError) as e:
        reasons["read"] += 1
        reasons["unreadable"] += 1
        import logging

        logging.getLogger("curate").error("%s: unreadable Parquet: %s", shard.path, e)
        return
    names = pf.schema_arrow.names
    wanted = [c for c in (ID, p.band.column if p.band else None, p.route.column if p.route else None) if c and c in names]
    row = 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS):
        n = batch.num_rows
        small = {c: batch.column(c).to_pylist() for c in wanted}
        ids = small.get(ID) or [None] * n
        keep_rows: list[int] = []
        keep_ids: list[str] = []
        for i in range(n):
            row += 1
            rid = ids[i]
            rid = f"{shard.name}:{row}" if rid is None or rid == "" else str(rid)
            view = {c: small[c][i] for c in wanted}
            view[ID] = rid
            styles, why = selector.styles_for(view)
            if styles is None:
                reasons[why] += 1
                continue
            if not selector.sampled(rid):
                reasons["sampled_out"] += 1
                continue
            keep_rows.append(i)
            keep_ids.append(rid)
        reasons["read"] += n
        if not keep_rows:
            continue
        taken = batch.take(pa.array(keep_rows, type=pa.int32()))
        # column by column: much faster than pyarrow's row-wise to_pylist
        columns = [taken.column(j).to_pylist() for j in range(taken.num_columns)]
        for rid, values in zip(keep_ids, zip(*columns)):
            doc = dict(zip(taken.schema.names, values))
            doc[ID] = rid
            doc.setdefault(URL, None)
            if not doc.get(SOURCE):
                doc[SOURCE] = shard.source
            text = doc.get(TEXT)
            if not isinstance(text, str):
                reasons["unreadable"] += 1
                continue
            if not text.strip():
                reasons["empty_text"] += 1
                continue
            yield doc, selector.styles_for(doc)[0]
