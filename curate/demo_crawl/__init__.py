"""Built-in synthetic crawl: deterministic pages of every kind the pipeline must handle.

    from curate.demo_crawl import generate_sample
    info = generate_sample("data/sample", docs=400, seed=0)

See generate.py for the files written and labels.jsonl's fields.
"""

from .generate import SampleInfo, generate_sample

__all__ = ["SampleInfo", "generate_sample"]
