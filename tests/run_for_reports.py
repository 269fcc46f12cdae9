"""A small real run for the report, stats and explain tests: ingest → filter → dedup → tokens (curate run), then select."""

from __future__ import annotations

from pathlib import Path

import orjson
import yaml
import zstandard

from curate.demo_crawl import generate_sample

from tests.conftest import run_cli, write_jsonl
from tests.query_corpus import make_docs

HOSTILE = {"id": "hostile", "text": "<script>alert('x')</script> A fine sentence about rivers, lakes and the sea. " * 8,
           "url": "https://evil.example/\"><img src=x onerror=alert(1)>", "source": "web", "language": "en",
           "rating_edu": 1.0, "quality_bucket": 3, "topic": "news", "score": 0.1}


_SHARED: dict[str, Path] = {}


def shared_run(tmp_path_factory) -> Path:
    """One run per test session for the report, stats and explain tests (they only read it)."""
    if "run" not in _SHARED or not _SHARED["run"].is_dir():
        _SHARED["run"] = make_run(tmp_path_factory.mktemp("run-for-reports"))
    return _SHARED["run"]


def make_run(root: Path) -> Path:
    # the demo crawl's texts (articles, spam, boilerplate...), with the columns later stages would add
    crawl = generate_sample(root / "crawl", docs=300, seed=9, shards=1, fmt="jsonl")
    texts = [orjson.loads(line) for line in zstandard.ZstdDecompressor().stream_reader(crawl.files[0].open("rb")).read().splitlines()]
    docs = make_docs(len(texts), seed=9)
    for d, t in zip(docs, texts):
        d["text"], d["url"] = t["text"], t["url"]
        d["domain"] = t["url"].split("/")[2]
    docs.append(dict(HOSTILE))
    for d in docs:
        d.pop("n_tokens", None)
    write_jsonl(root / "input" / "docs.jsonl", docs)
    cfg = {"run_dir": "run", "inputs": [{"path": "input", "source": "web"}],
           "stages": [{"stage": "ingest"}, {"stage": "filter", "preset": "gopher"},
                      {"stage": "dedup", "scope": "global", "method": "both"}, {"stage": "tokens"}]}
    (root / "run.yaml").write_text(yaml.safe_dump(cfg))
    run_cli("run", str(root / "run.yaml"), cwd=root, check=True)
    run = root / "run"
    run_cli("select", str(run / "03-tokens"), "-o", str(run / "04-select"),
            "--where", "language = 'en' AND rating_edu >= 2.5", check=True)
    return run
