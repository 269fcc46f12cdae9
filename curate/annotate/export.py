"""`curate annotate export`: a sample of documents turned into LLM batch request files.

The export folder holds everything the import needs, so responses join back without guessing:

    requests-00000.jsonl ...  OpenAI Batch request lines (for `curate llm run`, vllm run-batch, a hosted batch API)
    export.json               the task (name, version, file), model, parameters, sample report
    documents.parquet         the sampled documents (id, text, url, source, stratum)
    index.parquet             per request: custom_id, criterion, document(s), order, letters

Request ids start with `<task>@<version>:`, so a response file made with an older prompt version
is recognised and refused at import even without its export folder.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.llm.batch import RequestWriter, make_request, request_id
from curate.annotate.sample import stratified_sample
from curate.annotate.tasks import LETTERS, Task, cut_to_tokens
from curate.records import ID, SOURCE, TEXT, URL
from curate.stage import StageError

EXPORT_FILE, DOCUMENTS_FILE, INDEX_FILE = "export.json", "documents.parquet", "index.parquet"
DEFAULT_MODEL = "smollm2-135m"  # the embedded local model `curate llm serve` runs


@dataclass
class ExportResult:
    out_dir: Path
    documents: int
    requests: int
    files: list[Path]
    sample: dict
    pairs: int = 0
    short_excerpts: int = 0


def custom_id(task: Task, key: str, chunk: int, model: str, params: dict) -> str:
    return f"{task.tag}:{request_id(key, chunk, task.name, task.version, model, params)}"


def _atomic_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


def make_pairs(n: int, comparisons: int, rng: random.Random) -> list[tuple[int, int]]:
    """About `comparisons` distinct partners per document: rings over random permutations
    (each ring gives every document two partners), without repeating an unordered pair."""
    if n < 2:
        raise StageError("pairwise comparison needs at least two documents in the sample")
    seen: set[tuple[int, int]] = set()
    pairs = []
    for _ in range(max(1, (comparisons + 1) // 2)):
        order = list(range(n))
        rng.shuffle(order)
        for i in range(n if n > 2 else 1):
            a, b = order[i], order[(i + 1) % n]
            key = (min(a, b), max(a, b))
            if a != b and key not in seen:
                seen.add(key)
                pairs.append((a, b))
    return pairs


def export_requests(task: Task, inputs: list[str], out_dir: Path, n: int, by: str | None = None,
                    model: str = DEFAULT_MODEL, seed: int = 0, comparisons: int = 8,
                    criteria: list[str] | None = None, doc_tokens: int | None = None) -> ExportResult:
    """Sample `n` documents of `inputs` (stratified by column `by`) and write `task`'s requests to
    `out_dir`. `doc_tokens` overrides the task's cut of long documents (a small local model is slow
    on long prompts); pairwise tasks ask `comparisons` pairs per document."""
    out_dir = Path(out_dir)
    if doc_tokens is not None:
        if doc_tokens < 16:
            raise StageError("--doc-tokens must be at least 16")
        task = dataclasses.replace(task, doc_tokens=doc_tokens)
    if criteria:
        unknown = [c for c in criteria if c not in task.criteria]
        if unknown:
            raise StageError(f"task {task.tag}: unknown criteria {unknown}; it has {', '.join(task.criteria)}")
    if criteria and task.kind != "pairwise":
        raise StageError(f"--criteria applies to pairwise tasks; {task.tag} is a {task.kind} task")
    chosen = criteria or list(task.criteria)
    docs, report = stratified_sample(inputs, n, by, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    index: dict[str, list] = {k: [] for k in ("custom_id", "criterion", "doc_id", "doc_b", "order", "pair", "letters")}
    writer = RequestWriter(out_dir)
    result = ExportResult(out_dir, len(docs), 0, [], report)

    def add(key: str, chunk: int, messages: list[dict], params: dict, criterion: str, doc_id: str,
            doc_b: str | None = None, order: str | None = None, pair: int | None = None, letters=None) -> None:
        cid = custom_id(task, key, chunk, model, params)
        if writer.write(make_request(cid, messages, model, **params)):
            for k, v in (("custom_id", cid), ("criterion", criterion), ("doc_id", doc_id), ("doc_b", doc_b),
                         ("order", order), ("pair", pair), ("letters", json.dumps(letters) if letters else None)):
                index[k].append(v)

    ids = [str(d.get(ID)) for d in docs]
    if task.kind == "score":
        (criterion,) = chosen
        params = task.request_params()
        for doc_id, doc in zip(ids, docs):
            messages = task.render(document=cut_to_tokens(doc[TEXT], task.doc_tokens), criterion=criterion,
                                   criterion_description=task.criteria[criterion])
            add(doc_id, 0, messages, params, criterion, doc_id)
    elif task.kind == "choice":
        (criterion,) = chosen
        labels = task.taxonomy["labels"]
        letters = list(LETTERS[: len(labels)])
        params = task.request_params(letters)
        params_key = {**params, "taxonomy": task.taxonomy["sha256"]}
        for doc_id, doc in zip(ids, docs):
            order = labels[:]
            random.Random(f"{seed}:{doc_id}").shuffle(order)  # per document, reproducible
            choices = "\n".join(f"{letter}. {x['name']}" + (f": {x['description']}" if x["description"] else "")
                                for letter, x in zip(letters, order))
            messages = task.render(document=cut_to_tokens(doc[TEXT], task.doc_tokens), choices=choices,
                                   taxonomy=task.taxonomy["name"], criterion=criterion,
                                   criterion_description=task.criteria[criterion])
            cid_params = {**params_key, "order": [x["label"] for x in order]}
            cid = custom_id(task, doc_id, 0, model, cid_params)
            if writer.write(make_request(cid, messages, model, **params)):
                for k, v in (("custom_id", cid), ("criterion", criterion), ("doc_id", doc_id), ("doc_b", None),
                             ("order", None), ("pair", None), ("letters", json.dumps([x["label"] for x in order]))):
                    index[k].append(v)
    else:
        low, high = task.excerpt_tokens
        excerpts = [cut_to_tokens(d[TEXT], high) for d in docs]
        result.short_excerpts = sum(len(e) < low * 4 for e in excerpts)
        pairs = make_pairs(len(docs), comparisons, rng)
        result.pairs = len(pairs)
        params = task.request_params()
        for p, (a, b) in enumerate(pairs):
            for criterion in chosen:
                for order, (first, second) in (("ab", (a, b)), ("ba", (b, a))):
                    messages = task.render(excerpt_a=excerpts[first], excerpt_b=excerpts[second], criterion=criterion,
                                           criterion_description=task.criteria[criterion])
                    add(f"{ids[a]}|{ids[b]}|{criterion}", 0 if order == "ab" else 1, messages, params, criterion,
                        ids[a], ids[b], order, p)
    result.files = writer.close()
    result.requests = len(index["custom_id"])
    _atomic_parquet(pa.table({
        "custom_id": pa.array(index["custom_id"], pa.string()), "criterion": pa.array(index["criterion"], pa.string()),
        "doc_id": pa.array(index["doc_id"], pa.string()), "doc_b": pa.array(index["doc_b"], pa.string()),
        "order": pa.array(index["order"], pa.string()), "pair": pa.array(index["pair"], pa.int64()),
        "letters": pa.array(index["letters"], pa.string()),
    }), out_dir / INDEX_FILE)
    _atomic_parquet(pa.table({
        ID: pa.array(ids, pa.string()), TEXT: pa.array([d[TEXT] for d in docs], pa.string()),
        URL: pa.array([d.get(URL) for d in docs], pa.string()), SOURCE: pa.array([d.get(SOURCE) for d in docs], pa.string()),
        "stratum": pa.array([d["_stratum"] for d in docs], pa.string()),
    }), out_dir / DOCUMENTS_FILE)
    manifest = {
        "task": task.name, "version": task.version, "kind": task.kind, "task_file": task.source, "cites": task.cites,
        "criteria": chosen, "levels": list(task.levels), "doc_tokens": task.doc_tokens, "model": model, "seed": seed, "sample": report,
        "requests": result.requests, "files": [p.name for p in result.files], "pairs": result.pairs,
        "comparisons_per_document": comparisons if task.kind == "pairwise" else None,
        "taxonomy": None if task.taxonomy is None else {k: task.taxonomy[k] for k in ("name", "path", "sha256")},
        "template": task.template_args,
        "inputs": [str(i) for i in inputs], "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = out_dir / f".{EXPORT_FILE}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(out_dir / EXPORT_FILE)
    return result
