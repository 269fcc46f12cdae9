"""Running one stage: over shards (resumable, parallel) or as a stream (stdin/stdout).

Sharded mode writes, for each input shard NAME, `OUT/NAME.<fmt>` (kept documents),
`OUT/rejected/NAME.<fmt>` (removed ones, with `reject_reason`) and `OUT/_manifest/NAME.json`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO

from datatrove.pipeline.base import PipelineStep
from loguru import logger

from curate.executor import apply_env, curate_env, map_in_workers, run_tasks
from curate.inputs import InputShard
from curate.lock import empty_locked_folder, hold_locks, stage_folders
from curate.manifest import Entry, Manifest
from curate.records import REJECT_REASON
from curate.shards import ShardWriter, StreamWriter, suffix_for
from curate.stage import PrepareContext, ShardStats, Stage

log = logging.getLogger("curate")

REJECTED_DIR = "rejected"
FAILED_DIR = "_failed"  # one note per shard whose processing raised, during a run


class ShardFailed(Exception):
    """A stage raised while processing a shard; finished shards stay done, so a rerun resumes."""


@dataclass
class StageResult:
    stage: str
    out_dir: Path | None
    outputs: list[InputShard]  # the kept shards, the next stage's inputs
    stats: ShardStats
    shards_total: int = 0
    shards_run: int = 0
    seconds: float = 0.0
    summary: object = None
    problems: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.stats.docs_in == self.stats.kept + self.stats.rejected

    @property
    def read_anything(self) -> bool:
        unreadable = sum(v for k, v in self.stats.reasons.items() if k.startswith("read:"))
        return self.stats.docs_in - unreadable > 0


class _Tally:
    """Counts what passes through and routes it to the kept or rejected writer."""

    def __init__(self, kept, rejected):
        self.kept, self.rejected = kept, rejected
        self.stats = ShardStats()

    def read(self, docs: Iterable[dict]) -> Iterator[dict]:
        """Count input documents; those the reader already rejected skip the stage."""
        for doc in docs:
            self.stats.docs_in += 1
            if doc.get(REJECT_REASON):
                self.write(doc)
            else:
                yield doc

    def write(self, doc: dict) -> None:
        reason = doc.get(REJECT_REASON)
        if reason:
            s = self.stats
            s.rejected += 1
            s.reasons[reason] = s.reasons.get(reason, 0) + 1
            lang = doc.get("language")
            if lang:
                by_lang = s.reasons_by_language.setdefault(reason, {})
                by_lang[lang] = by_lang.get(lang, 0) + 1
            self.rejected().write(doc)
        else:
            self.stats.kept += 1
            self.kept().write(doc)


def process_shard(stage: Stage, shard: InputShard, input_hash: str, out_dir: Path, fmt: str, fingerprint: str) -> ShardStats:
    """Run `stage` over one input shard, write its outputs atomically, then record it in the manifest."""
    t0 = time.perf_counter()
    suffix = suffix_for(fmt)
    writers: dict[str, ShardWriter] = {}

    def writer(kind: str) -> ShardWriter:
        if kind not in writers:
            folder = out_dir / REJECTED_DIR if kind == "rejected" else out_dir
            writers[kind] = ShardWriter(folder / f"{shard.name}{suffix}", fmt)
        return writers[kind]

    # a redone shard may now write nothing, or another format: its old files must not linger
    _forget(out_dir, Manifest(out_dir), shard.name)
    tally = _Tally(lambda: writer("kept"), lambda: writer("rejected"))
    try:
        stage.setup()
        for doc in stage.process_shard(tally.read(stage.read(shard)), shard):
            tally.write(doc)
        written = {kind: w.commit() for kind, w in writers.items()}
    except BaseException as e:
        for w in writers.values():
            w.abort()
        if isinstance(e, Exception):
            raise ShardFailed(f"{stage.name} failed on {shard.label} after {tally.stats.docs_in} documents: "
                              f"{type(e).__name__}: {e}") from e
        raise
    tally.stats.seconds = time.perf_counter() - t0
    stats = tally.stats
    entry = Entry(
        input=str(shard.path) if shard.path else "-",
        input_hash=input_hash,
        input_size=shard.path.stat().st_size if shard.path else 0,
        input_mtime_ns=shard.path.stat().st_mtime_ns if shard.path else 0,
        fingerprint=fingerprint,
        outputs=[str(p.relative_to(out_dir)) for k, p in written.items() if p and k == "kept"],
        rejected=[str(p.relative_to(out_dir)) for k, p in written.items() if p and k == "rejected"],
        stats={"docs_in": stats.docs_in, "kept": stats.kept, "rejected": stats.rejected, "seconds": stats.seconds,
               "reasons": stats.reasons, "reasons_by_language": stats.reasons_by_language, "source": shard.source},
    )
    Manifest(out_dir).save(shard.name, entry)
    return stats


class ShardTasks(PipelineStep):
    """datatrove step: task `rank` processes pending input shard number `rank`."""

    name = "curate shards"
    type = "curate"

    def __init__(self, stage: Stage, jobs: list[tuple[InputShard, str]], out_dir: Path, fmt: str, fingerprint: str):
        super().__init__()
        self.stage, self.jobs, self.out_dir, self.fmt, self.fingerprint = stage, jobs, out_dir, fmt, fingerprint
        self.env = curate_env()

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        apply_env(self.env)
        shard, input_hash = self.jobs[rank]
        try:
            stats = process_shard(self.stage, shard, input_hash, self.out_dir, self.fmt, self.fingerprint)
        except ShardFailed as e:
            # record and return, so the other shards finish; run_stage reports every failure at the end
            logger.opt(exception=e.__cause__).error(str(e))
            failed = self.out_dir / FAILED_DIR
            failed.mkdir(exist_ok=True)
            (failed / f"{shard.name}.txt").write_text(str(e))
            return
        self.stat_update("docs_in", value=stats.docs_in)
        self.stat_update("kept", value=stats.kept)
        self.stat_update("rejected", value=stats.rejected)


def _forget(out_dir: Path, manifest: Manifest, name: str) -> None:
    """Remove a shard's recorded outputs and its manifest entry (the entry first: a crash between leaves it undone)."""
    entry = manifest.load(name)
    manifest.remove(name)
    for rel in (entry.outputs + entry.rejected) if entry else []:
        (out_dir / rel).unlink(missing_ok=True)


def _remove_stale(out_dir: Path, manifest: Manifest, keep: set[str]) -> None:
    """Forget shards whose input is no longer among the inputs, so they do not leak downstream."""
    for name in manifest.names():
        if name not in keep:
            _forget(out_dir, manifest, name)
    for tmp in list(out_dir.glob(".*.tmp")) + list((out_dir / REJECTED_DIR).glob(".*.tmp")):
        tmp.unlink(missing_ok=True)  # left by a killed run


@hold_locks(lambda a: [(a["out_dir"], "output folder"), *stage_folders(a["stage"])])
def run_stage(
    stage: Stage,
    inputs: list[InputShard],
    out_dir: Path,
    *,
    workers: int = 1,
    fmt: str = "parquet",
    resume: bool = True,
) -> StageResult:
    """Run `stage` over `inputs` into `out_dir`, redoing only shards not already done."""
    t0 = time.perf_counter()
    stage.check()
    if not resume and out_dir.exists():
        empty_locked_folder(out_dir)  # not rmtree: the folder's lock file stays
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir)
    _remove_stale(out_dir, manifest, {s.name for s in inputs})

    hashes = {s.name: manifest.input_hash(s.name, s.path) for s in inputs}
    fingerprint = f"{stage.fingerprint()}-{fmt}"
    if not stage.streaming:  # a global stage's every output depends on every input
        everything = "".join(f"{n}={h};" for n, h in sorted(hashes.items()))
        fingerprint += "-" + hashlib.sha256(everything.encode()).hexdigest()[:12]
    pending = [s for s in inputs if not manifest.is_done(s.name, s.path, hashes[s.name], fingerprint)]

    logs = out_dir / "_logs"
    ctx = PrepareContext(
        inputs=inputs, work_dir=out_dir / "_work", workers=workers,
        map_shards=partial(map_in_workers, workers=workers, logging_dir=logs), key=fingerprint,
    )
    if pending and not stage.streaming:
        stage.prepare(ctx)
    jobs = [(s, hashes[s.name]) for s in pending]
    shutil.rmtree(out_dir / FAILED_DIR, ignore_errors=True)
    run_tasks(ShardTasks(stage, jobs, out_dir, fmt, fingerprint), len(jobs), workers, logs)
    failures = sorted(p.read_text() for p in (out_dir / FAILED_DIR).glob("*.txt"))
    if failures:
        raise ShardFailed(f"{len(failures)} of {len(jobs)} shards failed:\n  " + "\n  ".join(failures))
    stage.finalize(ctx)

    total, outputs, problems = ShardStats(), [], []
    for shard in inputs:
        entry = manifest.load(shard.name)
        if entry is None:
            problems.append(f"{shard.label}: no manifest entry after the run")
            continue
        s = entry.stats
        total.add(ShardStats(s["docs_in"], s["kept"], s["rejected"], s["seconds"], s["reasons"], s["reasons_by_language"]))
        outputs += [InputShard(out_dir / rel, shard.name, shard.source) for rel in entry.outputs]
    result = StageResult(stage.name, out_dir, outputs, total, len(inputs), len(pending), time.perf_counter() - t0, problems=problems)
    result.summary = stage.summary(total)
    return result


@hold_locks(lambda a: stage_folders(a["stage"]))
def stream_stage(stage: Stage, inputs: list[InputShard], out: BinaryIO, rejected_path: Path, fmt: str = "jsonl",
                 work_dir: Path | None = None) -> StageResult:
    """Run `stage` in this process, kept documents as JSONL to `out`, rejected ones to a file.

    Streaming stages read stdin as it arrives; a global stage (dedup, keep-top) needs its
    inputs as files, so the caller spools stdin first, and `work_dir` is its scratch space.
    """
    t0 = time.perf_counter()
    stage.check()
    ctx = PrepareContext(inputs=inputs, work_dir=work_dir or rejected_path.parent / f"_work-{stage.name}", workers=1,
                         map_shards=lambda fn, items: [fn(x) for x in items], key="stream")
    if not stage.streaming:
        stage.prepare(ctx)
    kept = StreamWriter(out)
    rejected: list[ShardWriter] = []

    def rejected_writer() -> ShardWriter:
        if not rejected:
            rejected.append(ShardWriter(rejected_path, fmt))
        return rejected[0]

    tally = _Tally(lambda: kept, rejected_writer)
    stage.setup()
    for shard in inputs:
        try:
            for doc in stage.process_shard(tally.read(stage.read(shard)), shard):
                tally.write(doc)
        except (BrokenPipeError, ShardFailed):
            raise
        except Exception as e:
            raise ShardFailed(f"{stage.name} failed on {shard.label} after {tally.stats.docs_in} documents: "
                              f"{type(e).__name__}: {e}") from e
    kept.commit()
    if rejected:
        rejected[0].commit()
    stage.finalize(ctx)
    tally.stats.seconds = time.perf_counter() - t0
    result = StageResult(stage.name, None, [], tally.stats, len(inputs), len(inputs), tally.stats.seconds)
    result.summary = stage.summary(tally.stats)
    return result

