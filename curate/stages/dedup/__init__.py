"""The dedup stage: exact and MinHash near-duplicate removal, local or global, incremental.

prepare(): each input shard's keys in parallel (sign.py) -> DuckDB clustering over all of
them and the --index (cluster.py) -> per-shard decisions in the work folder.
process_shard(): applies that shard's decisions. finalize(): appends survivors to the index.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from curate.inputs import InputShard
from curate.logs import log
from curate.records import ID
from curate.errors import StageError
from curate.stage import PrepareContext, Stage, StageConfig
from curate.stages import register
from curate.stages.dedup.cluster import ClusterSettings, cluster
from curate.stages.dedup.curve import register_curve_command
from curate.stages.dedup.index import DedupIndex
from curate.stages.dedup.lsh import PRESETS, MinHashParams
from curate.stages.dedup.sign import sign_shard

DUPLICATE_OF, CLUSTER_SIZE = "duplicate_of", "dup_cluster_size"


class DedupConfig(StageConfig):
    method: Literal["exact", "minhash", "both"] = Field("both", description="Exact (normalised-text hash), MinHash near-duplicates, or both.")
    scope: Literal["local", "global"] = Field("global", description="local: dedup within each source only; global: across all sources.")
    index: Path | None = Field(None, description="Persistent index folder (relative: from the working directory, or from the config file's folder in `curate run`): dedup against everything earlier runs kept, then add this run's survivors.")
    source_priority: list[str] = Field(default_factory=list, description="Sources in order of preference for the surviving copy (then lowest id).")
    survivor: Literal["lowest-id", "first-seen"] = Field("lowest-id", description="After source_priority, the copy that survives: lowest-id (string order; independent of input order) or first-seen (the first in input order, as the index treats earlier runs; the default in a run with `ledger: true`, so batches equal one run over all their files).")
    preset: Literal["curate", "fineweb"] = Field("curate", description="MinHash settings: curate (5-grams, 20 bands x 7 rows) or fineweb (5-grams, 14 x 8).")
    ngram: int | None = Field(None, ge=1, le=32, description="Words per shingle (default: the preset's).")
    bands: int | None = Field(None, ge=1, le=512, description="LSH bands (default: the preset's).")
    rows: int | None = Field(None, ge=1, le=64, description="Signature rows per band; hashes = bands x rows (default: the preset's).")
    hashes: int | None = Field(None, ge=1, le=4096, description="Total MinHash functions; with bands, sets rows = hashes / bands.")
    seed: int = Field(1, ge=0, description="Seed of the MinHash functions (recorded in the index).")
    min_similarity: float = Field(0.65, ge=0.0, le=1.0, description="LSH candidates whose Jaccard similarity, estimated from their signatures, is below this are not duplicates (0: every candidate is, as FineWeb).")
    dedup_urls: bool = Field(False, description="Also treat documents with the same normalised URL as duplicates (dedup:url).")
    memory_limit: str = Field("4GB", pattern=r"^\d+(\.\d+)?\s*([KMGT]i?B|B)$", description="DuckDB memory limit for the clustering; beyond it DuckDB spills to the work folder.")

    @model_validator(mode="after")
    def _consistent(self):
        if len(set(self.source_priority)) != len(self.source_priority):
            raise ValueError("source_priority lists a source twice")
        if self.hashes is not None:
            bands = self.bands or PRESETS[self.preset].bands
            if self.hashes % bands or (self.rows and self.rows * bands != self.hashes):
                raise ValueError(f"hashes {self.hashes} is not bands ({bands}) x rows")
        return self


@dataclass(frozen=True)
class DedupPlan:
    """What the global pass hands to every shard: where the per-shard decisions are."""

    decisions: Path  # Parquet partitioned by shard_no: row, id, cluster_size, rule, duplicate_of
    shard_nos: dict[str, int]  # input shard name -> its number in the clustering


@register
class DedupStage(Stage):
    """Remove exact and near-duplicate documents (MinHash LSH), within or across sources and dumps."""

    name = "dedup"
    Config = DedupConfig
    streaming = False
    columns = {DUPLICATE_OF: pa.string(), CLUSTER_SIZE: pa.int64()}
    cli_commands = [register_curve_command]
    prepared: DedupPlan | None = None
    examples = (
        "curate dedup runs/filtered -o runs/dedup\n"
        "curate dedup dump-2024-10/ -o out/2024-10 --index dedup-index/ --source-priority wikipedia,news\n"
        "curate dedup corpus/ -o out/ --method exact --scope local\n"
        "curate dedup-curve --bands 14 --rows 8"
    )

    def __init__(self, config=None, **options):
        super().__init__(config, **options)
        c = self.config
        base = PRESETS[c.preset]
        bands = c.bands or base.bands
        rows = c.rows or (c.hashes // bands if c.hashes else base.rows)
        self.params = MinHashParams(ngram=c.ngram or base.ngram, bands=bands, rows=rows, seed=c.seed)

    def check(self) -> None:
        if self.config.index is not None:
            DedupIndex(self.config.index, self.params).check()

    def locks(self) -> list[Path]:
        return [self.config.index] if self.config.index is not None else []

    def _settings(self, workers: int) -> ClusterSettings:
        c = self.config
        return ClusterSettings(c.method, c.scope, c.dedup_urls, list(c.source_priority), self.params.bands,
                               c.memory_limit, workers, self.params.hashes, c.min_similarity, c.survivor)

    def _run_key(self, ctx: PrepareContext) -> str:
        """Names this run's part of the index: changes with the inputs, the config and the output
        folder (the same dump written elsewhere is another run, deduplicated against this one)."""
        parts = [ctx.key, self.fingerprint(), str(ctx.work_dir.resolve())]
        for s in ctx.inputs:
            st = s.path.stat() if s.path else None
            parts.append(f"{s.name}|{s.path}|{st.st_size if st else 0}|{st.st_mtime_ns if st else 0}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def prepare(self, ctx: PrepareContext) -> DedupPlan:
        work = ctx.cache_path("clustering")
        plan = DedupPlan(work / "decisions", {s.name: i for i, s in enumerate(ctx.inputs)})
        done = work / "clustered.json"
        if done.exists():
            log.info("dedup: reusing clustering in {}", work)
            return plan
        jobs = [(self, s, i, str(work / "keys" / f"{i:06d}.parquet")) for i, s in enumerate(ctx.inputs)]
        ctx.map_shards(sign_shard, jobs)
        index = DedupIndex(self.config.index, self.params) if self.config.index else None
        shutil.rmtree(plan.decisions, ignore_errors=True)  # a killed run's partial decisions
        stats = cluster([Path(j[3]) for j in jobs], index, self._run_key(ctx), self._settings(ctx.workers), work)
        log.info("dedup: {}", stats)
        done.write_text(json.dumps(stats))
        return plan

    def process_shard(self, docs: Iterable[dict], shard: InputShard) -> Iterator[dict]:
        if self.prepared is None:
            raise StageError("dedup: process_shard called before prepare (dedup cannot stream)")
        decided = _load_decisions(self.prepared.decisions, self.prepared.shard_nos[shard.name])
        for row, doc in enumerate(docs):
            d = decided.get(row)
            if d is None:
                doc[CLUSTER_SIZE] = 1
                yield doc
                continue
            if d["id"] != str(doc[ID]):
                raise StageError(f"dedup: decisions for {shard.label} do not match its documents "
                                 f"(row {row}: {d['id']!r} vs {doc[ID]!r}); rerun with --fresh")
            doc[CLUSTER_SIZE] = d["cluster_size"]
            if d["rule"]:
                doc[DUPLICATE_OF] = d["duplicate_of"]
                yield self.reject(doc, d["rule"], f"duplicate of {d['duplicate_of']} (cluster of {d['cluster_size']})")
            else:
                yield doc

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        raise StageError("dedup needs all its inputs first: run it over files, not inside a stream")

    def finalize(self, ctx: PrepareContext) -> None:
        if self.config.index is None:
            return
        index = DedupIndex(self.config.index, self.params)
        key = self._run_key(ctx)
        if index.is_committed(key):
            return
        work = ctx.cache_path("clustering")
        if not (work / "clustered.json").exists():
            raise StageError(f"dedup: no clustering found in {work} to add to the index; rerun with --fresh")
        index.append(key, work, self._settings(ctx.workers))


def _load_decisions(folder: Path, shard_no: int) -> dict[int, dict]:
    part = folder / f"shard_no={shard_no}"
    if not part.exists():
        return {}
    table = pq.read_table(part, columns=["row", "id", "cluster_size", "rule", "duplicate_of"])
    return {r["row"]: r for r in table.to_pylist()}
