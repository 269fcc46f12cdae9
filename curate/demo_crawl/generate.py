"""generate_sample: write the synthetic crawl, its labels and the training set."""

import gc
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from itertools import islice
from pathlib import Path

import orjson

from . import content, quality, train
from .docs_writer import DocsWriter
from .extras import non_html_records
from .pages import render
from .plan import PageSpec, plan, record_id
from .seeding import CONTENT, PAGE, rng_for
from .warc import WarcWriter

FORMATS = ("warc", "jsonl", "parquet")
# Above this many pages labels.jsonl leaves out gold_text to stay small.
GOLD_TEXT_MAX_DOCS = 50_000
METADATA_EVERY = 50  # one page in this many also gets a metadata record
NO_MAIN_TEXT = ("boilerplate", "binary_as_html")
# Below this many pages a worker process costs more than it saves.
PARALLEL_MIN_DOCS = 20_000


@dataclass
class SampleInfo:
    out_dir: Path
    fmt: str
    docs: int
    files: list[Path]  # the crawl shards
    labels: Path
    train_positive: Path
    train_negative: Path
    counts: dict[str, int] = field(default_factory=dict)  # records per kind, non_html included


def main_text(spec: PageSpec, seed: int) -> content.MainText | None:
    """What page `spec` says; duplicates rebuild their original's text from its index."""
    rng = rng_for(seed, CONTENT, spec.index)
    kind = spec.kind
    if kind in ("exact_duplicate", "near_duplicate"):
        original = content.article(rng_for(seed, CONTENT, spec.duplicate_of), seed)
        if kind == "exact_duplicate":
            return original
        title, *paragraphs = content.edit_words(original.gold, spec.edit_fraction, rng).split("\n")
        return content.prose(title, paragraphs)
    makers = {
        "article": lambda: content.article(rng, seed),
        "bad_utf8": lambda: content.article(rng, seed),
        "foreign_article": lambda: content.foreign_article(rng, spec.language),
        "spam": lambda: content.spam(rng),
        "short": lambda: content.short(rng, seed),
        "code": lambda: content.code_tutorial(rng, seed),
        "boilerplate": lambda: content.category_index(rng, seed),
        "huge": lambda: content.huge(rng, seed),
        "binary_as_html": lambda: None,
    }
    return makers[kind]()


def _label(spec: PageSpec, main: content.MainText | None, with_gold: bool, **extra) -> dict:
    gold = main.gold if main is not None and spec.kind not in NO_MAIN_TEXT else ""
    return {
        "url": spec.url, "id": spec.record_id, "kind": spec.kind, "language": spec.language,
        "duplicate_of": spec.duplicate_url,
        "edit_fraction": spec.edit_fraction,
        "edu_level": quality.edu_level(spec.kind),
        "gold_text": gold if with_gold else None,
        **extra,
    }


def _dates(seed: int, index: int) -> tuple[str, str]:
    """(WARC-Date, HTTP Date) of a capture: from the seed and index, never the clock."""
    when = datetime(2024, 5, 1, tzinfo=timezone.utc) + timedelta(hours=seed % 1000, seconds=7 * index)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ"), format_datetime(when, usegmt=True)


def _ids(seed: int, index: int) -> dict[str, str]:
    return {role: record_id(seed, index, role) for role in ("request", "response", "metadata")}


@dataclass
class _Shard:
    """One output shard: pages [start, stop) of the plan, in contiguous blocks
    so every duplicate's original precedes it in the files."""
    out: Path
    docs: int
    seed: int
    fmt: str
    number: int
    start: int
    stop: int

    @property
    def path(self) -> Path:
        if self.fmt == "warc":
            return self.out / f"crawl-{self.number:05d}.warc.gz"
        return self.out / f"docs-{self.number:05d}.{'jsonl.zst' if self.fmt == 'jsonl' else 'parquet'}"

    @property
    def labels_part(self) -> Path:
        return self.out / f".labels-{self.number:05d}.part"

    def specs(self) -> Iterator[PageSpec]:
        return islice(plan(self.docs, self.seed, warc=self.fmt == "warc"), self.start, self.stop)


def _write_warc_shard(shard: _Shard) -> Counter:
    seed, with_gold = shard.seed, shard.docs <= GOLD_TEXT_MAX_DOCS
    counts: Counter = Counter()
    with shard.path.open("wb") as f, shard.labels_part.open("wb") as labels:
        writer = WarcWriter(f, shard.path.name, record_id(seed, -1 - shard.number, "warcinfo"),
                            _dates(seed, shard.start)[0])
        for spec in shard.specs():
            main = main_text(spec, seed)
            payload = render(spec, main, rng_for(seed, PAGE, spec.index), seed)
            metadata = None
            if spec.index % METADATA_EVERY == 0:
                metadata = (f"fetchTimeMs: {50 + spec.index % 400}\r\n"
                            f"charset-detected: {payload.charset or 'UTF-8'}\r\n").encode()
            ip = f"10.{spec.index % 250}.{spec.index // 250 % 250}.{spec.index % 7 + 1}"
            writer.capture(spec.url, *_dates(seed, spec.index), _ids(seed, spec.index), payload.body,
                           payload.content_type, ip, metadata)
            labels.write(orjson.dumps(_label(spec, main, with_gold, shard=shard.path.name,
                                             charset=payload.charset)) + b"\n")
            counts[spec.kind] += 1
        # Fetched along with the shard's last page.
        for spec, body, ctype in non_html_records(seed, shard.number):
            writer.capture(spec.url, *_dates(seed, shard.stop - 1), _ids(seed, spec.index), body, ctype, "10.0.0.1")
            labels.write(orjson.dumps(_label(spec, None, with_gold, shard=shard.path.name, charset=None)) + b"\n")
            counts["non_html"] += 1
    return counts


def _write_docs_shard(shard: _Shard) -> Counter:
    seed, with_gold = shard.seed, shard.docs <= GOLD_TEXT_MAX_DOCS
    counts: Counter = Counter()
    writer = DocsWriter(shard.path, shard.fmt)
    try:
        with shard.labels_part.open("wb") as labels:
            for spec in shard.specs():
                main = main_text(spec, seed)
                writer.add(spec.record_id, main.gold, spec.url)
                labels.write(orjson.dumps(_label(spec, main, with_gold, shard=shard.path.name)) + b"\n")
                counts[spec.kind] += 1
    finally:
        writer.close()
    return counts


def _without_gc(work: Callable[[_Shard], Counter], shard: _Shard) -> Counter:
    # Generation allocates millions of short-lived, acyclic objects; the cycle
    # collector only slows it down (~15%).
    gc.disable()
    try:
        return work(shard)
    finally:
        gc.enable()


def _write_shards(shards: list[_Shard], labels_path: Path) -> Counter:
    """Write every shard, in worker processes when it pays off, then join the labels in order."""
    work = _write_warc_shard if shards[0].fmt == "warc" else _write_docs_shard
    workers = min(len(shards), os.cpu_count() or 1)
    if workers > 1 and shards[0].docs >= PARALLEL_MIN_DOCS:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_without_gc, [work] * len(shards), shards))
    else:
        results = [_without_gc(work, shard) for shard in shards]
    with labels_path.open("wb") as labels:
        for shard in shards:
            with shard.labels_part.open("rb") as part:
                shutil.copyfileobj(part, labels)
            shard.labels_part.unlink()
    return sum(results, Counter())


def _write_train(out: Path, docs: int, seed: int) -> tuple[Path, Path]:
    train_dir = out / "train"
    train_dir.mkdir(exist_ok=True)
    written = []
    for name, records in zip(("positive", "negative"), train.examples(docs, seed)):
        path = train_dir / f"{name}.jsonl"
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        written.append(path)
    ratings = train_dir / "ratings.jsonl"
    ratings.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in quality.rating_examples(docs, seed)))
    return written[0], written[1]


def generate_sample(out_dir: str | Path, docs: int = 400, seed: int = 0, shards: int = 2,
                    fmt: str = "warc") -> SampleInfo:
    """Write a synthetic crawl of `docs` pages to `out_dir`; same arguments, same bytes.

    fmt="warc": crawl-NNNNN.warc.gz, one warcinfo record then request/response
    (and sometimes metadata) records per page, plus robots.txt, PNG and PDF
    captures at the end of each shard.
    fmt="jsonl" / "parquet": docs-NNNNN.jsonl.zst / .parquet with records
    {"id", "text", "url", "source"}, text being the page's gold main text (for
    a boilerplate-only page, its link titles: what a naive extractor keeps).
    Pages that only make sense as raw bytes (binary_as_html, bad_utf8) exist
    only in WARC output.

    Always writes labels.jsonl, one line per response record in file order:
    url, id (WARC-Record-ID / document id), kind, language, duplicate_of (url),
    edit_fraction, edu_level (quality.py), gold_text (null above GOLD_TEXT_MAX_DOCS pages), shard,
    and for WARC the declared charset; and train/{positive,negative}.jsonl for the demo classifier
    and train/ratings.jsonl (text + edu level) for the demo rater.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
    if docs < 1 or shards < 1 or seed < 0:
        raise ValueError("docs and shards must be positive and seed non-negative")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards = min(shards, docs)
    # Shard k holds pages [ceil(k*docs/shards), ceil((k+1)*docs/shards)).
    bounds = [-(-k * docs // shards) for k in range(shards + 1)]
    plan_shards = [_Shard(out, docs, seed, fmt, k, bounds[k], bounds[k + 1]) for k in range(shards)]
    labels_path = out / "labels.jsonl"
    counts = _write_shards(plan_shards, labels_path)
    positive, negative = _write_train(out, docs, seed)
    return SampleInfo(out, fmt, docs, [s.path for s in plan_shards], labels_path, positive, negative,
                      dict(sorted(counts.items())))
