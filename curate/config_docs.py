"""Rendering configs/README.md from the config models, so the reference cannot drift from the code.

`python scripts/gen_config_docs.py` rewrites the file; a test fails when it is out of date.
"""

from __future__ import annotations

import typing
from enum import Enum

from pydantic import BaseModel

from curate.config import InputSpec, RunConfig
from curate.executors import RayOptions, SlurmOptions
from curate.stages import load_stages

HEADER = """# Configuration reference

`curate run CONFIG.yaml` reads one YAML file, validated before any work starts: an unknown key or
a bad value is an error naming the file and the key (exit code 2), and nothing is written.
Relative paths are taken from the config file's folder. Example: [demo.yaml](demo.yaml).

```yaml
run_dir: ../runs/demo
workers: 2
inputs:
  - path: ../data/sample      # files, folders or globs
    source: sample
stages:
  - stage: extract
  - stage: filter
    preset: fineweb
```

Every stage's options are also its subcommand's flags (`min_doc_words` ↔ `--min-doc-words`;
lists are comma-separated on the command line; mappings are config-file only), and
`curate STAGE --help` lists them. This file is generated from the code by
`python scripts/gen_config_docs.py`; do not edit it by hand.
"""


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, __import__("types").UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + " (optional)"
    if origin in (list, tuple):
        return f"list of {_type_name(args[0]) if args else 'values'}"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`" if not isinstance(value, (dict, list)) or value else "empty"


def _table(model: type[BaseModel]) -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        desc = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {desc} |")
    return "\n".join(rows)


BATCHES = """
### Batches: `ledger: true` (cron over new dumps)

A run with `ledger: true` (or `curate run CONFIG --ledger`) processes only the input files the run
directory has not processed before, and writes them as a new dated batch beside the earlier ones:

```
RUN_DIR/ledger.json                       every input file processed: sha256, size, mtime, last path, batch
RUN_DIR/dedup-index/                      the dedup index of all batches (when the dedup stage names no `index`)
RUN_DIR/batches/2026-12-03T142501Z/       batch.json (its files) and the usual NN-stage/ folders
RUN_DIR/batches/2026-12-03T142501Z.json   its run card (`curate runs RUN_DIR` lists them)
```

- **New or changed** is decided by content: a file whose sha256 the ledger holds is skipped wherever it
  is now (renamed, moved, copied; the ledger records the new path). A file whose path, size and mtime
  equal the ledger's record is not read again; every other file is hashed.
- **Inputs**: the config's `inputs`, or `--input PATTERN` (repeatable; relative to the working
  directory; quote globs, `**` crosses folders), which replaces them:
  `curate run crawl.yaml --input 'crawl/CC-MAIN-*/**/*.warc.gz'`. `--input` also works without a
  ledger (one run over those files).
- **Dedup across batches**: each batch is deduplicated against every earlier batch's survivors through
  the dedup stage's `index` (by default `RUN_DIR/dedup-index`, `dedup-index-NN` for a second dedup
  stage), and `survivor` defaults to `first-seen`. So two batches together keep the same documents, and
  the same survivors, as one run over both dumps in arrival order with `survivor: first-seen`
  (tested on the demo crawl split into two dumps). Global cuts (model-filter `keep_top`, rate buckets,
  tag clusters) are computed within each batch.
- **Failure**: the ledger is updated only when a batch has completed and passed the run's checks. A
  batch that failed or was killed is resumed, with the same files, by the next run before anything
  newer (files that arrived meanwhile wait for the run after); `--fresh` redoes the current batch
  from scratch. Nothing new: exit 0 and no batch.
- **One run at a time**: a run holds `RUN_DIR`'s lock from the scan to the ledger update; an
  overlapping run exits 75 and changes nothing.
- Without a ledger, `curate run` works as before on `RUN_DIR/NN-stage/` (resume by manifest) and writes
  `RUN_DIR/run-card.json` for the latest run.
"""


STAGES_INTRO = """Each entry is `stage: NAME` plus the options below. Any entry may also say `materialize: true`:
consecutive streaming stages run as one pass per input shard, handing kept documents on in
memory, and only the last of them writes kept shards (every stage writes its own rejects,
named outputs and manifest); `materialize: true` writes this stage's kept shards too and ends
the pass there. Stages that need all their inputs first (dedup; model-filter with keep_top;
rate with buckets; tag with cluster) always start a pass of their own.
"""


def render() -> str:
    stages = load_stages()
    parts = [HEADER, "## Top level\n", _table(RunConfig), "\n### `inputs` entries\n", _table(InputSpec)]
    parts += ["\n### `ray` (with `executor: ray`)\n", _table(RayOptions),
              "\n### `slurm` (with `executor: slurm`)\n", _table(SlurmOptions),
              "\nHow tasks, resume and barrier stages work on a cluster, and a worked 100-node config: "
              "[docs/operations.md](../docs/operations.md)."]
    parts.append(BATCHES)
    parts.append("\n## Stages\n\n" + STAGES_INTRO)
    for name in sorted(stages):
        cls = stages[name]
        if cls.__module__.startswith("curate.stages."):
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            parts.append(f"### `{name}`\n\n{doc}\n\n{_table(cls.Config)}\n")
    return "\n".join(parts).rstrip() + "\n"
