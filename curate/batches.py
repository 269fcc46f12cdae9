"""Runs over a growing crawl (`ledger: true`): each run processes only new input files, as a new batch.

    RUN_DIR/ledger.json                      every file content processed so far (curate/ledger.py)
    RUN_DIR/dedup-index/                     the dedup index of every batch (when the config names none)
    RUN_DIR/batches/2026-12-03T142501Z/      one batch: batch.json (its files) + the usual NN-stage/ folders
    RUN_DIR/batches/2026-12-03T142501Z.json  its run card (curate/runcard.py)

A run holds the run directory's lock throughout (an overlapping cron job exits 75), compares the
files its inputs name with the ledger, writes the new ones into a new batch folder's `batch.json`
and runs the configured stages over them there (`run_pipeline`, unchanged), deduplicating
against the persistent index of every earlier batch. Only when the batch has completed and
passed the same checks as any run are its files added to the ledger. A batch that failed or was
killed is not in the ledger: the next run resumes that same batch (same files, so dedup's index
entry for it is reused, never duplicated) before anything newer; files that arrived meanwhile
wait for the run after.

So the batches together equal one run over all their files: per-document stages see the same
documents, and dedup keeps the copy first seen (`survivor: first-seen`, the default here), as
one run over the files in input order does. Global cuts (keep-top %, rate buckets, clusters)
are computed per batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from curate.atomic import write_atomic
from curate.config import InputSpec, RunConfig, StageSpec
from curate.errors import EXIT_FAILED, EXIT_INTERRUPTED, CurateError, InputError
from curate.inputs import resolve_inputs
from curate.ledger import Candidate, Delta, Ledger
from curate.lock import folder_lock
from curate.logs import log
from curate.runcard import RunCard, error_text
from curate.runner import StageResult, Watch

BATCHES_DIR = "batches"
PLAN_NAME = "batch.json"  # inside a batch folder: the files it processes, written before any work
DEFAULT_INDEX = "dedup-index"


@dataclass
class Batch:
    id: str
    dir: Path
    files: list[Candidate]
    delta: dict  # the ledger delta when the batch was planned (for its card)
    resumed: bool = False

    @property
    def card_path(self) -> Path:
        return self.dir.with_name(f"{self.id}.json")


@dataclass
class Outcome:
    batch: Batch | None  # None: nothing new
    results: list[StageResult]
    delta: Delta
    waiting: int = 0  # new files left for the next run (a resumed batch came first)


def batches_dir(run_dir: Path) -> Path:
    return Path(run_dir) / BATCHES_DIR


def _new_id(run_dir: Path) -> str:
    base = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    bid, n = base, 1
    while (batches_dir(run_dir) / bid).exists() or (batches_dir(run_dir) / f"{bid}.json").exists():
        n += 1
        bid = f"{base}-{n}"
    return bid


def _pending(run_dir: Path, ledger: Ledger) -> Batch | None:
    """The oldest planned batch the ledger does not record as complete."""
    for plan in sorted(batches_dir(run_dir).glob(f"*/{PLAN_NAME}")):
        bid = plan.parent.name
        if bid in ledger.batches:
            continue
        data = json.loads(plan.read_text())
        return Batch(bid, plan.parent, [Candidate.from_dict(d) for d in data["files"]], data["delta"], resumed=True)
    return None


def _relocate(batch: Batch, delta: Delta) -> None:
    """A pending batch's files by content: a file renamed since the batch was planned is found again."""
    now = {c.sha256: c for c in delta.added + delta.changed + delta.skipped}
    for i, c in enumerate(batch.files):
        if c.path.exists():
            continue
        moved = now.get(c.sha256)
        if moved is None:
            raise InputError(f"batch {batch.id} (unfinished) processes {c.path}, which is gone and not found "
                             f"under the inputs by its content; put it back, or remove {batch.dir} to drop the batch")
        log.warning("batch {}: {} is now {}", batch.id, c.path, moved.path)
        batch.files[i] = Candidate(moved.path, c.source, moved.size, moved.mtime_ns, c.sha256)


def _plan(run_dir: Path, files: list[Candidate], delta: Delta) -> Batch:
    bid = _new_id(run_dir)
    batch = Batch(bid, batches_dir(run_dir) / bid, files, delta.as_dict())
    write_atomic(batch.dir / PLAN_NAME, json.dumps({"id": bid, "files": [c.as_dict() for c in files],
                                                    "delta": batch.delta}, indent=1) + "\n")
    return batch


def batch_specs(specs: list[StageSpec], run_dir: Path) -> list[StageSpec]:
    """The stages as a batch runs them: a dedup stage without `index` gets one in the run directory
    (without it a batch could not dedup against the ones before), and `survivor` defaults to
    first-seen (the copy of an earlier batch wins, as in one run over all files in input order)."""
    dedups = [i for i, s in enumerate(specs) if s.name == "dedup"]
    out = []
    for i, spec in enumerate(specs):
        if spec.name == "dedup":
            update = {}
            if getattr(spec.options, "index", None) is None:
                update["index"] = Path(run_dir) / (DEFAULT_INDEX if len(dedups) == 1 else f"{DEFAULT_INDEX}-{i:02d}")
            if "survivor" not in spec.options.model_fields_set:
                update["survivor"] = "first-seen"
            spec = StageSpec(name=spec.name, options=spec.options.model_copy(update=update))
        out.append(spec)
    return out


def exit_code_of(e: BaseException) -> int:
    if isinstance(e, CurateError):
        return e.exit_code
    if isinstance(e, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def run_batch(cfg: RunConfig, specs: list[StageSpec], config_path: Path, *, workers: int | None = None,
              resume: bool = True, watch: Watch | None = None,
              check: Callable[[list[StageResult]], None] | None = None) -> Outcome:
    """Process the input files the run directory's ledger does not hold yet, as one batch.

    `check(results)` runs before the ledger is updated (the CLI's nothing-lost checks); if it
    raises, the batch counts as failed and its files stay new.
    """
    from curate.pipeline import run_pipeline

    run_dir = Path(cfg.run_dir)
    with folder_lock(run_dir, "run directory"):
        ledger = Ledger.load(run_dir)
        first = specs[0].build()
        shards = resolve_inputs([i.path for i in cfg.inputs], first.input_suffixes,
                                sources=[i.source for i in cfg.inputs])
        batch = _pending(run_dir, ledger)
        delta = ledger.scan(shards, batch.files if batch else ())
        waiting = 0
        if batch is not None:
            _relocate(batch, delta)
            planned = {c.sha256 for c in batch.files}
            waiting = sum(c.sha256 not in planned for c in delta.new)
            log.warning("resuming unfinished batch {} ({} files){}", batch.id, len(batch.files),
                        f"; {waiting} newer files wait for the next run" if waiting else "")
        elif delta.new:
            batch = _plan(run_dir, delta.new, delta)
        else:
            if ledger.record_moves(delta):
                ledger.save()
            return Outcome(None, [], delta)

        run_cfg = cfg.model_copy(update={
            "run_dir": batch.dir, "inputs": [InputSpec(path=str(c.path), source=c.source) for c in batch.files]})
        stage_specs = batch_specs(specs, run_dir)
        card = RunCard.start(batch.card_path, config_path, run_cfg, stage_specs, batch=batch.id,
                             ledger=batch.delta, input_files=[c.path for c in batch.files])
        results: list[StageResult] = []
        try:
            results = run_pipeline(run_cfg, stage_specs, workers=workers, resume=resume, watch=watch)
            if check is not None:
                check(results)
        except BaseException as e:
            card.finish(results, exit_code_of(e), error_text(e))
            raise
        ledger.commit(batch.id, batch.files, delta)
        card.finish(results, 0)
        return Outcome(batch, results, delta, waiting)


def list_batches(run_dir: Path) -> list[tuple[str, dict | None]]:
    """(batch id, its card or None), oldest first; a run without a ledger is one entry named '-'."""
    from curate.runcard import CARD_NAME, load_card

    run_dir = Path(run_dir)
    found = []
    folder = batches_dir(run_dir)
    ids = sorted({p.name for p in folder.iterdir() if p.is_dir()} |
                 {p.stem for p in folder.glob("*.json")}) if folder.is_dir() else []
    for bid in ids:
        found.append((bid, load_card(folder / f"{bid}.json")))
    if (run_dir / CARD_NAME).exists():
        found.append(("-", load_card(run_dir / CARD_NAME)))
    return found
