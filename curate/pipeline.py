"""Running the configured chain of stages (`curate run`).

Consecutive streaming stages run as one pass per input shard (`passes`); each pass reads the
previous pass's kept shards.
"""

from __future__ import annotations

from pathlib import Path

from curate.config import RunConfig, StageSpec
from curate.errors import ConfigError, StageError
from curate.inputs import resolve_inputs
from curate.lock import hold_locks, stage_folders
from curate.runner import StageResult, Watch, run_chain
from curate.stage import Stage
from curate.stages.extract import ExtractStage
from curate.stages.extract.language_gate import LanguageGate
from curate.stages.model_filter import ModelFilterStage


def stage_dir(run_dir: Path, index: int, name: str) -> Path:
    return run_dir / f"{index:02d}-{name}"


def _run_folders(a: dict) -> list[tuple[Path, str]]:
    """Locked for the whole run, before any stage starts: the run directory and the folders stages
    write outside it (a dedup index), so an overlapping run stops at once, not hours later."""
    return [(a["cfg"].run_dir, "run directory"), *(f for spec in a["specs"] for f in stage_folders(spec.build()))]


@hold_locks(_run_folders)
def run_pipeline(cfg: RunConfig, specs: list[StageSpec], workers: int | None = None, resume: bool = True,
                 watch: Watch | None = None) -> list[StageResult]:
    """Run every stage in order; a stage whose inputs and config are unchanged is skipped shard by shard."""
    stages = [spec.build() for spec in specs]
    if cfg.language_push_down:
        push_language_check(stages)
    for i, stage in enumerate(stages):  # fail on a missing model or a column clash before anything is written
        try:
            stage.check_columns(stages)
        except StageError as e:
            raise ConfigError(f"stages[{i}] ({stage.name}): {e}") from None
        stage.check()
    first = stages[0]
    inputs = resolve_inputs(
        [i.path for i in cfg.inputs], first.input_suffixes, sources=[i.source for i in cfg.inputs]
    )
    results: list[StageResult] = []
    for chain in passes(stages, [cfg.materialize or spec.materialize for spec in specs]):
        out_dirs = [stage_dir(cfg.run_dir, i, stages[i].name) for i in chain]
        results += run_chain([stages[i] for i in chain], inputs, out_dirs, workers=workers or cfg.workers,
                             fmt=cfg.output_format, resume=resume, watch=watch, cluster=cfg.cluster)
        inputs = results[-1].outputs
    return results


def passes(stages: list[Stage], materialize: list[bool]) -> list[list[int]]:
    """The stages, by index, grouped into passes over the shards: consecutive streaming stages share
    one pass (kept documents go on in memory); a stage that needs all its inputs first (dedup,
    keep-top, global quantiles) is a pass of its own, and so ends the pass before it; a
    materialized stage ends its pass, so its kept shards are written."""
    groups: list[list[int]] = []
    for i, stage in enumerate(stages):
        prev = groups[-1][-1] if groups else None
        if prev is not None and stage.streaming and stages[prev].streaming and not materialize[prev]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def push_language_check(stages: list[Stage]) -> None:
    """Where model-filter keeping only some languages reads extract's output, let extract skip the
    main-text pass for pages surely in another language (extract/language_gate.py)."""
    for stage, later in zip(stages, stages[1:]):
        # tag mode keeps every document: a page must then keep its main text
        if isinstance(stage, ExtractStage) and isinstance(later, ModelFilterStage) and later.config.languages \
                and later.config.mode == "drop":
            stage.language_gate = LanguageGate(tuple(later.config.languages))


def chain_problems(results: list[StageResult]) -> list[str]:
    """Documents unaccounted for: within a stage (in != kept + rejected) or between stages."""
    problems = []
    for prev, cur in zip([None, *results], results):
        if not cur.balanced:
            s = cur.stats
            problems.append(f"{cur.stage}: {s.docs_in} in but {s.kept} kept + {s.rejected} rejected")
        if prev is not None and prev.stats.kept != cur.stats.docs_in:
            problems.append(f"{cur.stage}: read {cur.stats.docs_in} documents but {prev.stage} kept {prev.stats.kept}")
        problems += cur.problems
    return problems
