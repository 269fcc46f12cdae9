"""Running one stage: over shards (resumable, parallel) or as a stream (stdin/stdout).

Both modes drive the stage with the same loop (`drive`): read a shard's rows, let the stage
process them, route what it yields to the kept, rejected and named outputs, and count.

Sharded mode writes, for each input shard NAME, `OUT/NAME.<fmt>` (kept documents),
`OUT/rejected/NAME.<fmt>` (removed ones, with `reject_reason`), `OUT/<output>/NAME.<fmt>` for
each named output the stage declares, and `OUT/_manifest/NAME.json` (what is done).
Stream mode writes kept documents as JSONL to stdout and the rest beside `--rejected`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO, ContextManager

from datatrove.pipeline.base import PipelineStep

from curate import __version__
from curate.atomic import atomic_path, remove_leftovers
from curate.errors import CurateError, ShardFailed
from curate.executor import apply_env, curate_env, map_in_workers, run_tasks
from curate.executors import ClusterOptions
from curate.inputs import STDIN, InputShard, resolve_inputs
from curate.lock import empty_locked_folder, folder_lock, folder_locks, stage_folders
from curate.logs import log
from curate.manifest import Entry, Manifest
from curate.progress import ShardProgress
from curate.records import REJECT_DETAIL, REJECT_REASON, TEXT
from curate.shards import REJECTS_TO, ShardWriter, StreamWriter, suffix_for
from curate.stage import PrepareContext, ShardStats, Stage, StageSummary

REJECTED_DIR = "rejected"
FAILED_DIR = "_failed"  # one note per shard whose processing raised, during a run
WORK_DIR = "_work"
LOGS_DIR = "_logs"

# watch(stage name, out_dir, pending shard name -> input size, fingerprint) -> a context manager
# around the stage's run (the CLI's live progress).
Watch = Callable[[str, Path, dict[str, int], str], ContextManager]


@dataclass
class StageResult:
    stage: str
    out_dir: Path | None
    outputs: list[InputShard]  # the kept shards, the next stage's inputs
    stats: ShardStats
    shards_total: int = 0
    shards_run: int = 0
    seconds: float = 0.0
    summary: StageSummary | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.stats.docs_in == self.stats.kept + self.stats.rejected

    @property
    def read_errors(self) -> int:
        return sum(v for k, v in self.stats.reasons.items() if k.startswith("read:"))

    @property
    def read_anything(self) -> bool:
        return self.stats.docs_in - self.read_errors > 0


# ------------------------------------------------------------------ the one driving loop


class Sinks:
    """Where one shard's documents go: kept, rejected, and the stage's named outputs (opened on first use)."""

    def __init__(self, kept: Callable[[], object], rejected: Callable[[], object], output: Callable[[str], object]):
        self._make = {"kept": kept, "rejected": rejected}
        self._output = output
        self.open: dict[str, object] = {}

    def get(self, kind: str):
        if kind not in self.open:
            self.open[kind] = self._make[kind]() if kind in self._make else self._output(kind)
        return self.open[kind]


class _Tally:
    """Counts what passes through and routes it to its sink; applies tag mode."""

    def __init__(self, stage: Stage, sinks: Sinks, progress: ShardProgress | None):
        self.sinks, self.progress = sinks, progress
        self.tag = stage.config.mode == "tag"
        self.reason_column = stage.reason_column()
        self.stats = ShardStats()
        self.columns: set[str] = set()  # of the documents `kept` hands on (recorded for a fused pass)

    def reader_rejected(self, doc: dict) -> None:
        self.stats.docs_in += 1
        self.write(doc)

    def rows(self, docs: Iterable[dict]) -> Iterator[dict]:
        for doc in docs:
            self.stats.docs_in += 1
            if self.progress is not None:
                self.progress.tick()
            yield doc

    def write(self, doc: dict) -> None:
        if self.sort(doc):
            self.sinks.get("kept").write(doc)

    def kept(self, docs: Iterable[dict]) -> Iterator[dict]:
        """The documents of `docs` the stage keeps; the rest go to the rejected sink (a fused chain)."""
        for doc in docs:
            if self.sort(doc):
                self.columns.update(doc)
                yield doc

    def sort(self, doc: dict) -> bool:
        """Count `doc`, write it to the rejected sink if the stage removes it; True if it is kept."""
        reason = doc.get(REJECT_REASON)
        s = self.stats
        # tag mode keeps every document the stage would remove; records without text are not
        # documents (an unreadable line, a non-HTML record) and are rejected in any mode
        if reason and self.tag and not reason.startswith("read:") and isinstance(doc.get(TEXT), str):
            doc[self.reason_column] = reason
            del doc[REJECT_REASON]
            doc.pop(REJECT_DETAIL, None)
            s.tagged[reason] = s.tagged.get(reason, 0) + 1
            reason = None
        if reason:
            s.rejected += 1
            s.reasons[reason] = s.reasons.get(reason, 0) + 1
            lang = doc.get("language")
            if lang:
                by_lang = s.reasons_by_language.setdefault(reason, {})
                lang = str(lang)  # a stray non-string value must not break the tables
                by_lang[lang] = by_lang.get(lang, 0) + 1
            self.sinks.get("rejected").write(doc)
            return False
        s.kept += 1
        return True


def drive(stage: Stage, shard: InputShard, sinks: Sinks, progress: ShardProgress | None = None) -> ShardStats:
    """Run `stage` over one shard into `sinks`; a stage error becomes ShardFailed naming shard and cause."""
    return drive_chain([stage], shard, [sinks], progress)[0].stats


def drive_chain(stages: list[Stage], shard: InputShard, sinks: list[Sinks],
                progress: ShardProgress | None = None) -> list[_Tally]:
    """Run `stages` in turn over one shard, each stage's kept documents handed to the next in memory.

    Every stage routes its rejects and named outputs to its own sinks; only the last one's kept
    documents are written. One stage is a chain of one.
    """
    tallies = [_Tally(stage, s, progress if i == 0 else None) for i, (stage, s) in enumerate(zip(stages, sinks))]
    for stage, s in zip(stages, sinks):
        stage._emit = partial(_write_to, s)
    try:
        docs: Iterable[dict] = stages[0].rows(shard, on_reject=tallies[0].reader_rejected)
        for i, (stage, tally) in enumerate(zip(stages, tallies)):
            if i:
                docs = stage.usable(docs, shard, on_reject=tally.reader_rejected)
            docs = tally.kept(_naming_failures(stage, shard, tally, stage.process_shard(tally.rows(docs), shard)))
        last = sinks[-1]
        for doc in docs:
            last.get("kept").write(doc)
    finally:
        for stage in stages:
            stage._emit = None
    return tallies


def _write_to(sinks: Sinks, output: str, record: dict) -> None:
    sinks.get(output).write(record)


def _naming_failures(stage: Stage, shard: InputShard, tally: _Tally, docs: Iterable[dict]) -> Iterator[dict]:
    """`docs` with a stage's unexpected error turned into ShardFailed naming the stage, shard and position.

    Adds the time spent getting each document to `tally.stats.seconds`: in a chain that includes the
    stages before (see `_own_seconds`)."""
    it = iter(docs)
    stats = tally.stats
    try:
        while True:
            t = time.perf_counter()
            try:
                doc = next(it)
            except StopIteration:
                stats.seconds += time.perf_counter() - t
                return
            stats.seconds += time.perf_counter() - t
            yield doc
    except (BrokenPipeError, CurateError):
        raise  # includes an earlier stage's ShardFailed passing through this one
    except Exception as e:
        raise ShardFailed(f"{stage.name} failed on {shard.label} after {tally.stats.docs_in} documents: "
                          f"{type(e).__name__}: {e}") from e


# ------------------------------------------------------------------ sharded mode


def run_shard(stages: list[Stage], shard: InputShard, input_hash: str, out_dirs: list[Path], fmt: str,
              fingerprints: list[str]) -> list[ShardStats]:
    """Run a chain of stages over one input shard, write every output atomically, then record each stage
    in its manifest. Stages before the last record `passed_to`: their kept documents went on in memory."""
    t0 = time.perf_counter()
    manifests = [Manifest(d) for d in out_dirs]
    for out_dir, manifest in zip(out_dirs, manifests):
        # a redone shard may now write nothing, or another format: its old files must not linger
        forget(out_dir, manifest, shard.name)

    def writer(folder: Path, output_fmt: str) -> ShardWriter:
        return ShardWriter(folder / f"{shard.name}{suffix_for(output_fmt)}", output_fmt)

    sinks = [Sinks(kept=partial(writer, d, fmt), rejected=partial(writer, d / REJECTED_DIR, fmt),
                   output=lambda name, d=d, stage=stage: writer(d / name, stage.outputs[name] or fmt))
             for stage, d in zip(stages, out_dirs)]
    size = shard.path.stat().st_size if shard.path else 0
    progress = ShardProgress(out_dirs[0], shard.name, size)
    try:
        for stage in stages:
            stage.setup()
        tallies = drive_chain(stages, shard, sinks, progress)
        written = [{kind: w.commit() for kind, w in s.open.items()} for s in sinks]
    except BaseException:
        for s in sinks:
            for w in s.open.values():
                w.abort()
        raise
    finally:
        progress.done()
    all_stats = [t.stats for t in tallies]
    _own_seconds(all_stats, time.perf_counter() - t0)
    for i, (stage, out_dir, manifest, stats) in enumerate(zip(stages, out_dirs, manifests, all_stats)):
        passed = i + 1 < len(stages)
        rel = {kind: [str(p.relative_to(out_dir))] for kind, p in written[i].items() if p}
        entry = Entry(
            input=str(shard.path) if shard.path else "-",
            input_hash=input_hash,
            input_size=size,
            input_mtime_ns=shard.path.stat().st_mtime_ns if shard.path else 0,
            fingerprint=fingerprints[i],
            outputs=rel.pop("kept", []),
            rejected=rel.pop("rejected", []),
            named_outputs=rel,
            stats={**stats.as_dict(), "source": shard.source},
            curate_version=__version__,
            passed_to=out_dirs[i + 1].name if passed else "",
            passed_columns=sorted(tallies[i].columns) if passed else [],
        )
        manifest.save(shard.name, entry)
    return all_stats


def _own_seconds(stats: list[ShardStats], wall: float) -> None:
    """Each stage's own time from the cumulative times `_naming_failures` measured (stage i's includes
    stages 0..i-1, which feed it); reading, setup and writing count as the first stage's."""
    cumulative = [s.seconds for s in stats]
    for i, s in enumerate(stats):
        s.seconds = cumulative[i] - (cumulative[i - 1] if i else 0.0)
    stats[0].seconds += wall - cumulative[-1]


class ShardTasks(PipelineStep):
    """datatrove step: task `rank` runs the chain of stages over pending input shard number `rank`."""

    name = "curate shards"
    type = "curate"

    def __init__(self, stages: list[Stage], jobs: list[tuple[InputShard, str]], out_dirs: list[Path], fmt: str,
                 fingerprints: list[str]):
        super().__init__()
        self.stages, self.jobs, self.out_dirs, self.fmt, self.fingerprints = stages, jobs, out_dirs, fmt, fingerprints
        self.env = curate_env()

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        apply_env(self.env)
        shard, input_hash = self.jobs[rank]
        try:
            with log.contextualize(stage=" → ".join(s.name for s in self.stages), shard=shard.name):  # for JSON logs
                stats = run_shard(self.stages, shard, input_hash, self.out_dirs, self.fmt, self.fingerprints)
        except ShardFailed as e:
            # record and return, so the other shards finish; run_chain reports every failure at the end
            log.opt(exception=e.__cause__).error(str(e))
            failed = self.out_dirs[0] / FAILED_DIR
            failed.mkdir(exist_ok=True)
            (failed / f"{shard.name}.txt").write_text(str(e))
            return
        self.stat_update("docs_in", value=stats[0].docs_in)
        self.stat_update("kept", value=stats[-1].kept)
        self.stat_update("rejected", value=sum(s.rejected for s in stats))


def forget(out_dir: Path, manifest: Manifest, name: str) -> None:
    """Remove a shard's recorded outputs and its manifest entry (the entry first: a crash between leaves it undone)."""
    entry = manifest.load(name)
    manifest.remove(name)
    for rel in entry.all_outputs() if entry else []:
        (out_dir / rel).unlink(missing_ok=True)


def _remove_stale(stage: Stage, out_dir: Path, manifest: Manifest, keep: set[str]) -> None:
    """Forget shards whose input is no longer among the inputs, so they do not leak downstream."""
    for name in manifest.names():
        if name not in keep:
            forget(out_dir, manifest, name)
    for folder in (out_dir, out_dir / REJECTED_DIR, *(out_dir / name for name in stage.outputs)):
        remove_leftovers(folder)  # temporary files of a killed run


def _remove_old_caches(work_dir: Path, key: str) -> None:
    for old in work_dir.glob("cache-*") if work_dir.is_dir() else ():
        if old.name != f"cache-{key}":
            shutil.rmtree(old, ignore_errors=True)


def check_writable(folder: Path, what: str) -> None:
    """Fail before any work if `folder` cannot be created or written (a file in the way, read-only)."""
    if folder.exists() and not folder.is_dir():
        raise CurateError(f"{what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".curate-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise CurateError(f"cannot write {what} {folder}: {e.strerror or e}") from None


def _fingerprints(stages: list[Stage], fmt: str, hashes: dict[str, str]) -> list[str]:
    """What decides each stage's output. A global stage's every output depends on every input; in a
    fused chain every stage's depends on the whole chain (its shards are done together, or redone)."""
    own = [f"{stage.fingerprint()}-{fmt}" for stage in stages]
    if len(stages) > 1:
        chain = hashlib.sha256(";".join(own).encode()).hexdigest()[:12]
        return [f"{fp}-pass-{chain}" for fp in own]
    if not stages[0].streaming:
        everything = "".join(f"{n}={h};" for n, h in sorted(hashes.items()))
        return [own[0] + "-" + hashlib.sha256(everything.encode()).hexdigest()[:12]]
    return own


def run_stage(stage: Stage, inputs: list[InputShard], out_dir: Path, *, workers: int = 1, fmt: str = "parquet",
              resume: bool = True, watch: Watch | None = None, cluster: ClusterOptions | None = None) -> StageResult:
    """Run `stage` over `inputs` into `out_dir`, redoing only shards not already done."""
    return run_chain([stage], inputs, [out_dir], workers=workers, fmt=fmt, resume=resume, watch=watch,
                     cluster=cluster)[0]


def run_chain(
    stages: list[Stage],
    inputs: list[InputShard],
    out_dirs: list[Path],
    *,
    workers: int = 1,
    fmt: str = "parquet",
    resume: bool = True,
    watch: Watch | None = None,
    cluster: ClusterOptions | None = None,
) -> list[StageResult]:
    """Run one stage, or a chain of streaming stages fused into one pass per shard, over `inputs`
    (the shards in local worker processes, or as tasks on the Ray/Slurm `cluster`).

    Each stage writes its own folder (rejects, named outputs, manifest); only the last writes kept
    shards. A shard is redone unless every stage of the chain recorded it done with its inputs and config.
    """
    if len(stages) > 1 and not all(stage.streaming for stage in stages):
        raise CurateError("only streaming stages run fused: " + ", ".join(s.name for s in stages if not s.streaming)
                          + " needs all its inputs first")
    t0 = time.perf_counter()
    for stage, out_dir in zip(stages, out_dirs):
        stage.check()
        check_writable(out_dir, "output folder")
    first_dir = out_dirs[0]
    with ExitStack() as locks:
        locks.enter_context(folder_locks([*((d, "output folder") for d in out_dirs),
                                          *(f for stage in stages for f in stage_folders(stage))]))
        if not resume:
            for out_dir in out_dirs:
                empty_locked_folder(out_dir)  # not rmtree: the folder's lock file stays
        manifests = [Manifest(d) for d in out_dirs]
        for stage, out_dir, manifest in zip(stages, out_dirs, manifests):
            _remove_stale(stage, out_dir, manifest, {s.name for s in inputs})

        hashes = {s.name: manifests[0].input_hash(s.name, s.path) for s in inputs}
        fingerprints = _fingerprints(stages, fmt, hashes)
        pending = [s for s in inputs
                   if not all(m.is_done(s.name, hashes[s.name], fp) for m, fp in zip(manifests, fingerprints))]

        logs = first_dir / LOGS_DIR
        contexts = [PrepareContext(stage=stage, inputs=inputs, work_dir=d / WORK_DIR, workers=workers,
                                   map_shards=partial(map_in_workers, workers=workers, logging_dir=d / LOGS_DIR,
                                                      cluster=cluster), key=fp)
                    for stage, d, fp in zip(stages, out_dirs, fingerprints)]
        sizes = {s.name: s.path.stat().st_size if s.path else 0 for s in pending}
        label = " → ".join(stage.name for stage in stages)
        with watch(label, first_dir, sizes, fingerprints[0]) if watch and pending else nullcontext():
            if pending and not stages[0].streaming:
                _remove_old_caches(first_dir / WORK_DIR, fingerprints[0])
                stages[0].prepared = stages[0].prepare(contexts[0])
            jobs = [(s, hashes[s.name]) for s in pending]
            shutil.rmtree(first_dir / FAILED_DIR, ignore_errors=True)
            run_tasks(ShardTasks(stages, jobs, out_dirs, fmt, fingerprints), len(jobs), workers, logs, cluster)
        failures = sorted(p.read_text() for p in (first_dir / FAILED_DIR).glob("*.txt"))
        if failures:
            raise ShardFailed(f"{len(failures)} of {len(jobs)} shards failed:\n  " + "\n  ".join(failures)
                              + f"\n(tracebacks in {logs}/logs/; finished shards are kept: fix and rerun to resume)")
        for stage, ctx in zip(stages, contexts):
            stage.finalize(ctx)

    results = []
    for stage, out_dir, manifest in zip(stages, out_dirs, manifests):
        total, outputs, problems = ShardStats(), [], []
        for shard in inputs:
            entry = manifest.load(shard.name)
            if entry is None:
                problems.append(f"{shard.label}: no manifest entry after the run")
                continue
            total.add(ShardStats.from_dict(entry.stats))
            outputs += [InputShard(out_dir / rel, shard.name, shard.source) for rel in entry.outputs]
        result = StageResult(stage.name, out_dir, outputs, total, len(inputs), len(pending), problems=problems)
        result.summary = stage.summary(total)
        results.append(result)
    # the wall time, shared out among fused stages by their own time in the shards
    wall, busy = time.perf_counter() - t0, sum(r.stats.seconds for r in results)
    for r in results:
        r.seconds = wall * r.stats.seconds / busy if busy else wall / len(results)
    return results


# ------------------------------------------------------------------ stream mode


def stream_stage(stage: Stage, inputs: list[InputShard], out: BinaryIO, rejected_path: Path, fmt: str = "jsonl",
                 work_dir: Path | None = None) -> StageResult:
    """Run `stage` in this process, kept documents as JSONL to `out`, rejected ones to a file.

    Named outputs go to `<rejected folder's parent>/<output>/<rejected file's name>`. Streaming
    stages read stdin as it arrives; a global stage needs its inputs as files (see `run`).
    """
    t0 = time.perf_counter()
    stage.check()
    outputs_root = rejected_path.parent.parent
    for folder in (rejected_path.parent, *(outputs_root / name for name in stage.outputs)):
        check_writable(folder, "folder")
    stem = rejected_path.name.removesuffix(suffix_for(fmt))
    with ExitStack() as locks:
        locks.enter_context(folder_locks(stage_folders(stage)))
        ctx = PrepareContext(stage=stage, inputs=inputs, work_dir=work_dir or rejected_path.parent / f"_work-{stage.name}",
                             workers=1, map_shards=lambda fn, items: [fn(x) for x in items], key="stream")
        if not stage.streaming:
            stage.prepared = stage.prepare(ctx)
        kept = StreamWriter(out)
        sinks = Sinks(kept=lambda: kept, rejected=lambda: ShardWriter(rejected_path, fmt),
                      output=lambda name: ShardWriter(outputs_root / name / f"{stem}{suffix_for(stage.outputs[name] or fmt)}",
                                                      stage.outputs[name] or fmt))
        stage.setup()
        total = ShardStats()
        token = REJECTS_TO.set(str(rejected_path))
        try:
            for shard in inputs:
                total.add(drive(stage, shard, sinks))
        finally:
            REJECTS_TO.reset(token)
        for w in sinks.open.values():
            w.commit()
        stage.finalize(ctx)
    total.seconds = time.perf_counter() - t0
    result = StageResult(stage.name, None, [], total, len(inputs), len(inputs), total.seconds)
    result.summary = stage.summary(total)
    return result


# ------------------------------------------------------------------ one stage command


def _spool_stdin(folder: Path) -> Path:
    """Copy JSONL from stdin to a file, for stages that need their input as files."""
    path = folder / "stdin.jsonl"
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return path


def run(stage: Stage, input_args: list[str], output: str, *, workers: int = 1, fmt: str = "parquet",
        resume: bool = True, rejected: Path = Path(REJECTED_DIR), source: str | None = None,
        watch: Watch | None = None) -> tuple[StageResult, Path | None]:
    """What `curate STAGE INPUT... -o OUTPUT` does: a stream when OUTPUT is `-`, else shards.

    Returns the result and, in stream mode, the file rejected documents went to. Stdin is read
    as it arrives by streaming stages and spooled to a file first for global ones.
    """
    if not input_args:
        raise CurateError(f"{stage.name}: give at least one INPUT (a file, folder, glob, or - for stdin)")
    if STDIN in input_args and ".jsonl" not in stage.input_suffixes:
        raise CurateError(f"{stage.name} reads files ({', '.join(stage.input_suffixes)}), not JSONL on stdin: name the files")
    shards = resolve_inputs(input_args, stage.input_suffixes, source=source)
    stage.check_columns()

    def spooled(folder: Path) -> list[InputShard]:
        if all(s.path is not None for s in shards) or (output == "-" and stage.streaming):
            return shards
        folder.mkdir(parents=True, exist_ok=True)
        path = _spool_stdin(folder)
        return [InputShard(path, "stdin", s.source) if s.path is None else s for s in shards]

    if output != "-":
        out_dir = Path(output)
        check_writable(out_dir, "output folder")
        with folder_lock(out_dir, "output folder"):  # before the stdin spool writes into it
            inputs = spooled(out_dir / "_stdin")
            return run_stage(stage, inputs, out_dir, workers=workers, fmt=fmt, resume=resume, watch=watch), None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rejected_path = rejected / f"{stage.name}-{stamp}-{os.getpid()}.jsonl"
    with tempfile.TemporaryDirectory(prefix=f"curate-{stage.name}-") as scratch:
        inputs = spooled(Path(scratch))
        return stream_stage(stage, inputs, sys.stdout.buffer, rejected_path, work_dir=Path(scratch) / "work"), rejected_path
