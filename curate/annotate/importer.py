"""`curate annotate import`: LLM answers back into labels, one column per criterion.

- score tasks (edu): the parsed number, per document;
- choice tasks (taxonomy): the category's label, the letter mapped back through that document's
  shuffled order;
- pairwise tasks (QuRating): per pair and criterion, P(first shown wins) in each order (from the
  answer's log-probabilities when present, else 1/0 from the letter), calibrated over both orders
  ((p_ab + 1 - p_ba) / 2), then a Bradley-Terry fit gives each document a scalar rating.

Nothing is scored by default: an answer that does not parse, a refusal, an API error or a missing
response is a counted failure, written with its raw text to `<labels>.failures.parquet`; the
document's label stays null. Responses made with another prompt version than the current task's
are refused (the prompt or parser changed since; their numbers would not mean the same).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.annotate import bradley_terry
from curate.llm.batch import read_responses
from curate.annotate.export import DOCUMENTS_FILE, EXPORT_FILE, INDEX_FILE
from curate.annotate.parse import Failure, choice_probability, parse_answer
from curate.annotate.tasks import Task, load_task, task_from_template
from curate.stage import StageError


@dataclass
class CriterionReport:
    answered: int = 0
    failures: Counter = field(default_factory=Counter)  # reason -> count (missing included)
    labelled_documents: int = 0
    pairs: int = 0  # pairwise: pairs with both orders answered
    held_out: int = 0
    held_out_accuracy: float | None = None


@dataclass
class ImportResult:
    out: Path
    task: str
    documents: int
    criteria: dict[str, CriterionReport]
    failures_file: Path | None
    unknown: int = 0
    duplicates: int = 0


def response_files(paths: list[Path]) -> list[Path]:
    """The files to read: folders stand for their response files (not the request files beside
    them), and `curate llm run`'s dead-letter file (`X.dead.jsonl`, requests that failed for good)
    comes along with its `X.jsonl`, so those requests count as errors, not as missing."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.glob("*.jsonl") if not f.name.startswith(("requests-", ".")))
        else:
            files.append(p)
    for f in list(files):
        dead = f.with_name(f.name.removesuffix(".jsonl") + ".dead.jsonl")
        if not f.name.endswith(".dead.jsonl") and dead.exists() and dead not in files:
            files.append(dead)
    return files


def find_export_dir(responses: list[Path], export_dir: Path | None) -> Path:
    if export_dir is not None:
        if not (export_dir / EXPORT_FILE).exists():
            raise StageError(f"{export_dir}: not an export folder (no {EXPORT_FILE}); give the folder "
                             "`curate annotate export -o` wrote")
        return export_dir
    for p in responses:
        for folder in (p if p.is_dir() else p.parent, (p if p.is_dir() else p.parent).parent):
            if (folder / EXPORT_FILE).exists():
                return folder
    raise StageError("cannot find the export folder of these responses: give it with --export DIR")


def current_task(manifest: dict, export_dir: Path) -> Task:
    """The task as this curate defines it now (shipped file or the user's file)."""
    tpl = manifest.get("template")
    if tpl:
        return task_from_template(tpl["path"], tpl.get("answer_regex"), tpl.get("json_field"),
                                  tpl.get("criterion"), tpl.get("levels") or None)
    tax = manifest.get("taxonomy")
    source = manifest.get("task_file") or manifest["task"]
    if not Path(source).exists():
        source = manifest["task"]
    return load_task(source, tax["path"] if tax else None)


def _refuse_version(path: Path, found: str, task: Task) -> StageError:
    return StageError(f"{path}: answers prompt version {found}, but the current task is {task.tag}; the prompt or "
                      f"its parser changed since, so these answers are refused. Export again and rerun the requests.")


def import_labels(responses: list[Path], out: Path, export_dir: Path | None = None, l2: float = 0.01) -> ImportResult:
    responses = [Path(p) for p in responses]
    for p in responses:
        if not p.exists():
            raise StageError(f"{p}: no such file or folder")
    export_dir = find_export_dir(responses, export_dir)
    manifest = json.loads((export_dir / EXPORT_FILE).read_text())
    task = current_task(manifest, export_dir)
    exported = f"{manifest['task']}@{manifest['version']}"
    if exported != task.tag:
        raise _refuse_version(export_dir / EXPORT_FILE, exported, task)
    index = pq.read_table(export_dir / INDEX_FILE).to_pylist()
    by_id = {row["custom_id"]: row for row in index}
    docs = pq.read_table(export_dir / DOCUMENTS_FILE)

    answers: dict = {}
    unknown = duplicates = 0
    files = response_files(responses)
    for path in files:
        got = read_responses([path])
        for cid in got:
            tag = cid.split(":", 1)[0] if ":" in cid else None
            if tag is not None and "@" in tag and tag != task.tag and tag.split("@")[0] == task.name:
                raise _refuse_version(path, tag, task)
        for cid, ans in got.items():
            if cid not in by_id:
                unknown += 1
            elif cid in answers:
                duplicates += 1
            else:
                answers[cid] = ans
        duplicates += getattr(got, "duplicates", 0)

    reports = {c: CriterionReport() for c in manifest["criteria"]}
    failures: list[dict] = []
    results: dict[str, object] = {}  # custom_id -> parsed value (failures left out)
    for row in index:
        cid = row["custom_id"]
        rep = reports[row["criterion"]]
        ans = answers.get(cid)
        letters = json.loads(row["letters"]) if row["letters"] else None
        if ans is None:
            outcome = Failure("missing", "no response for this request")
        else:
            outcome = parse_answer(task, ans.text, ans.error, ans.finish_reason,
                                   list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(letters)]) if letters else None)
        if isinstance(outcome, Failure):
            rep.failures[outcome.reason] += 1
            failures.append({"custom_id": cid, "criterion": row["criterion"], "doc_id": row["doc_id"],
                             "doc_b": row["doc_b"], "order": row["order"], "reason": outcome.reason,
                             "detail": outcome.detail, "raw_text": None if ans is None else ans.text})
            continue
        rep.answered += 1
        if task.kind == "choice":
            outcome = letters["ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(outcome)]
        elif task.kind == "pairwise":
            p = choice_probability(ans.raw, "A", "B")
            outcome = p if p is not None else (1.0 if outcome == "A" else 0.0)
        results[cid] = outcome

    ids = docs.column("id").to_pylist()
    position = {d: i for i, d in enumerate(ids)}
    columns: dict[str, pa.Array] = {}
    if task.kind in ("score", "choice"):
        for criterion, rep in reports.items():
            values = [None] * len(ids)
            for row in index:
                if row["criterion"] == criterion and row["custom_id"] in results:
                    values[position[row["doc_id"]]] = results[row["custom_id"]]
            rep.labelled_documents = sum(v is not None for v in values)
            columns[criterion] = pa.array(values, pa.float64() if task.kind == "score" else pa.string())
    else:
        orders: dict[tuple, dict[str, float]] = defaultdict(dict)
        for row in index:
            if row["custom_id"] in results:
                orders[(row["criterion"], row["pair"])][row["order"]] = results[row["custom_id"]]
            orders.setdefault((row["criterion"], row["pair"]), {})
        pair_docs = {(r["criterion"], r["pair"]): (r["doc_id"], r["doc_b"]) for r in index if r["order"] == "ab"}
        for criterion, rep in reports.items():
            a, b, p, keys = [], [], [], []
            for (crit, pair), got in orders.items():
                if crit != criterion:
                    continue
                if "ab" in got and "ba" in got:
                    da, db = pair_docs[(crit, pair)]
                    a.append(position[da])
                    b.append(position[db])
                    p.append(bradley_terry.calibrated(got["ab"], got["ba"]))
                    keys.append(f"{da}|{db}|{crit}")
                elif got:  # one order answered: without its mirror the position bias is not cancelled
                    rep.failures["one_order_only"] += 1
            rep.pairs = len(p)
            values = [None] * len(ids)
            if p:
                fitted = bradley_terry.fit_with_check(len(ids), a, b, p, keys, l2=l2)
                rep.held_out, rep.held_out_accuracy = fitted.held_out, fitted.held_out_accuracy
                compared = np.zeros(len(ids), dtype=bool)
                compared[a] = compared[b] = True
                values = [float(s) if c else None for s, c in zip(fitted.ratings, compared)]
            rep.labelled_documents = sum(v is not None for v in values)
            columns[criterion] = pa.array(values, pa.float64())

    table = docs
    for name, col in columns.items():
        table = table.append_column(name, col)
    meta = {"curate.task": task.tag, "curate.kind": task.kind, "curate.criteria": json.dumps(list(reports)),
            "curate.levels": json.dumps(list(task.levels)), "curate.model": manifest.get("model", "")}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k: str(v) for k, v in meta.items()}})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)
    failures_file = out.with_name(out.name.removesuffix(".parquet") + ".failures.parquet")
    if failures:
        ftmp = failures_file.with_name(f".{failures_file.name}.tmp")
        pq.write_table(pa.Table.from_pylist(failures, schema=pa.schema([
            ("custom_id", pa.string()), ("criterion", pa.string()), ("doc_id", pa.string()), ("doc_b", pa.string()),
            ("order", pa.string()), ("reason", pa.string()), ("detail", pa.string()), ("raw_text", pa.string())])),
            ftmp, compression="zstd")
        ftmp.replace(failures_file)
    else:
        failures_file.unlink(missing_ok=True)
    return ImportResult(out, task.tag, len(ids), reports, failures_file if failures else None, unknown, duplicates)
