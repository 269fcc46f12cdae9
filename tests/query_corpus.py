"""A synthetic stage output for the query commands' tests: shards with a full run's kind of columns."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

LANGS = ["en", "en", "en", "de", "fr", "es"]
DOMAINS = [f"site{i}.example" for i in range(12)]


def make_docs(n: int, seed: int = 0, start: int = 0) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for i in range(start, start + n):
        lang = rng.choice(LANGS)
        words = rng.randint(20, 400)
        docs.append({
            "id": f"d{i:06d}",
            "text": " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "epsilon"]) for _ in range(words)),
            "url": f"https://{rng.choice(DOMAINS)}/{i}",
            "source": rng.choice(["web", "web", "books"]),
            "domain": None,
            "language": lang,
            "rating_edu": None if i % 50 == 7 else round(rng.uniform(0, 5), 1),  # coarse: ties
            "quality_bucket": rng.randint(0, 19),
            "n_tokens": words + rng.randint(0, 30),
            "topic": rng.choice(["science", "sports", "news", "travel"]),
            "score": rng.random(),  # continuous: no ties
        })
        docs[-1]["domain"] = docs[-1]["url"].split("/")[2]
    return docs


def write_shards(folder: Path, docs: list[dict], shards: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    per = -(-len(docs) // shards)
    for s in range(shards):
        part = docs[s * per:(s + 1) * per]
        path = folder / f"part-{s:02d}.parquet"
        pq.write_table(pa.Table.from_pylist(part), path)
        paths.append(path)
    return paths


def read_folder(folder: Path) -> list[dict]:
    rows = []
    for p in sorted(folder.glob("*.parquet")):
        rows += pq.read_table(p).to_pylist()
    return rows


def invoke(*args: str, width: int = 200):
    """Run `curate ARGS` in this process (the real CLI, without interpreter start-up); returns the click Result."""
    import os

    from typer.testing import CliRunner

    from curate.cli import app

    return CliRunner(env={"COLUMNS": str(width), **{k: v for k, v in os.environ.items() if k == "PATH"}}).invoke(app, list(args))
