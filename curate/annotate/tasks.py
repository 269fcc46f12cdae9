"""Annotation tasks: a prompt template, how to read its answer, and a version.

A task is a YAML file (the shipped ones are in configs/prompts/; a user's own is given by path):

    name, version        the version goes into every request id; answers to another version are refused
    kind                 score (one document, a number), pairwise (two excerpts, A or B),
                         choice (one document, one lettered category of a taxonomy)
    criteria             {name: description}: what is judged; a score task has one, pairwise several
    levels               score tasks: the allowed values (e.g. 0..5)
    system, user         the messages; placeholders {document}, {excerpt_a}, {excerpt_b},
                         {criterion}, {criterion_description}, {choices}, {taxonomy}
    answer               regex (group 1 is the answer) or json_field (+ json_schema, sent as
                         response_format so the server constrains decoding), optional choices
    max_tokens, temperature, doc_tokens (cut long documents), excerpt_tokens ([min, max], pairwise)

Documents are always placed between markers that the template tells the model are data; text
inside a document that looks like a marker is defused so it cannot close the block early.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from curate.llm.batch import json_schema_format
from curate.stage import StageError

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "configs" / "prompts"
CHARS_PER_TOKEN = 4  # estimate used to cut documents and excerpts to a token budget
PLACEHOLDER = re.compile(r"\{(document|excerpt_a|excerpt_b|criterion|criterion_description|choices|taxonomy)\}")
MARKER = re.compile(r"<(/?)\s*(document|excerpt_a|excerpt_b)\s*>", re.IGNORECASE)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

Kind = Literal["score", "pairwise", "choice"]


@dataclass(frozen=True)
class Task:
    name: str
    version: str
    kind: Kind
    system: str
    user: str
    criteria: dict[str, str] = field(default_factory=dict)
    levels: tuple[float, ...] = ()
    answer_regex: str | None = None
    json_field: str | None = None
    json_schema: dict | None = None
    choices: tuple[str, ...] = ()
    max_tokens: int = 300
    temperature: float = 0.0
    logprobs: bool = False
    doc_tokens: int = 2000
    excerpt_tokens: tuple[int, int] = (256, 512)
    cites: str = ""
    source: str = ""  # the file it was read from
    taxonomy: dict | None = None  # choice tasks: {"name", "labels": [{"label", "name", "description"}]}
    template_args: dict | None = None  # a user's template task: how to rebuild it (task_from_template)

    @property
    def tag(self) -> str:
        """`name@version`, as it appears in request ids and error messages."""
        return f"{self.name}@{self.version}"

    def request_params(self, letters: list[str] | None = None) -> dict:
        """Body parameters besides model and messages."""
        params: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.logprobs:
            params.update(logprobs=True, top_logprobs=5)
        if self.json_schema is not None:
            schema = json.loads(json.dumps(self.json_schema))
            if letters is not None and self.json_field in schema.get("properties", {}):
                schema["properties"][self.json_field]["enum"] = letters
            params["response_format"] = json_schema_format(re.sub(r"\W", "_", self.name), schema)
        return params

    def render(self, **values: str) -> list[dict]:
        """The chat messages with the placeholders filled (document text defused first)."""
        for key in ("document", "excerpt_a", "excerpt_b"):
            if key in values:
                values[key] = defuse(values[key])

        def fill(m: re.Match) -> str:
            if m.group(1) not in values:
                raise StageError(f"task {self.tag} ({self.source}): placeholder {{{m.group(1)}}} has no value here")
            return values[m.group(1)]

        messages = [{"role": "system", "content": self.system.strip()}] if self.system.strip() else []
        messages.append({"role": "user", "content": PLACEHOLDER.sub(fill, self.user).strip()})
        return messages


def defuse(text: str) -> str:
    """Make marker look-alikes inside a document harmless (`</document>` -> `‹/document›`)."""
    return MARKER.sub(lambda m: f"‹{m.group(1)}{m.group(2)}›", text)


def cut_to_tokens(text: str, tokens: int) -> str:
    """The start of `text` up to about `tokens` tokens, ending at a word boundary."""
    limit = tokens * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def shipped_tasks() -> list[str]:
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))


def load_task(name_or_path: str, taxonomy: str | None = None) -> Task:
    """A shipped task by name (configs/prompts/NAME.yaml) or a task YAML by path."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = PROMPTS_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise StageError(f"unknown task {name_or_path!r}: not a task file, and not one of the shipped "
                             f"tasks ({', '.join(shipped_tasks())})")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise StageError(f"task file {path}: not valid YAML ({e})") from None
    if not isinstance(spec, dict):
        raise StageError(f"task file {path}: expected a mapping of keys")
    return task_from_spec(spec, str(path), taxonomy)


def task_from_template(template: str, answer_regex: str | None, json_field: str | None,
                       criterion: str | None = None, levels: list[float] | None = None) -> Task:
    """A user's own score task: a template file (its text is the user message, with {document})
    and a parser (a regex whose group 1 is the score, or a JSON field). Its version is a hash of the
    template and parser, so editing either makes earlier answers refused."""
    path = Path(template)
    if not path.is_file():
        raise StageError(f"template {template}: no such file")
    if (answer_regex is None) == (json_field is None):
        raise StageError("a template needs exactly one parser: --answer-regex PATTERN or --answer-json-field NAME")
    text = path.read_text(encoding="utf-8")
    if "{document}" not in text:
        raise StageError(f"template {template}: it has no {{document}} placeholder for the page")
    name = criterion or re.sub(r"\W", "_", path.stem)
    version = hashlib.sha256(json.dumps([text, answer_regex, json_field, levels]).encode()).hexdigest()[:8]
    spec = {"name": path.stem, "version": version, "kind": "score", "criteria": {name: name}, "user": text,
            "system": "", "levels": levels or [], "answer": {"regex": answer_regex, "json_field": json_field}}
    task = task_from_spec(spec, str(path), None)
    args = {"path": str(path.resolve()), "answer_regex": answer_regex, "json_field": json_field,
            "criterion": criterion, "levels": levels}
    return dataclasses.replace(task, template_args=args)


def task_from_spec(spec: dict, source: str, taxonomy: str | None) -> Task:
    def need(key: str):
        if key not in spec:
            raise StageError(f"task file {source}: missing key {key!r}")
        return spec[key]

    kind = need("kind")
    if kind not in ("score", "pairwise", "choice"):
        raise StageError(f"task file {source}: kind must be score, pairwise or choice (got {kind!r})")
    answer = spec.get("answer") or {}
    regex, json_field = answer.get("regex"), answer.get("json_field")
    if (regex is None) == (json_field is None):
        raise StageError(f"task file {source}: answer needs exactly one of regex or json_field")
    if regex is not None:
        try:
            compiled = re.compile(regex)
        except re.error as e:
            raise StageError(f"task file {source}: answer regex {regex!r} is invalid ({e})") from None
        if compiled.groups < 1:
            raise StageError(f"task file {source}: answer regex {regex!r} needs a group around the answer")
    criteria = {str(k): str(v).strip() for k, v in (spec.get("criteria") or {}).items()}
    tax = None
    if kind == "choice":
        if taxonomy is None:
            raise StageError(f"task {spec.get('name')}: a choice task needs --taxonomy FILE (e.g. configs/taxonomies/...yaml)")
        tax = load_taxonomy(taxonomy)
        criteria = {re.sub(r"\W", "_", tax["name"]): f"category in taxonomy {tax['name']}"}
    elif not criteria:
        raise StageError(f"task file {source}: needs criteria: {{name: description}}")
    if kind == "score" and len(criteria) != 1:
        raise StageError(f"task file {source}: a score task judges one criterion (got {len(criteria)})")
    excerpt = tuple(spec.get("excerpt_tokens") or (256, 512))
    return Task(
        name=str(need("name")), version=str(need("version")), kind=kind, system=str(spec.get("system") or ""),
        user=str(need("user")), criteria=criteria, levels=tuple(float(v) for v in spec.get("levels") or ()),
        answer_regex=regex, json_field=json_field, json_schema=answer.get("json_schema"),
        choices=tuple(str(c) for c in answer.get("choices") or ()), max_tokens=int(spec.get("max_tokens", 300)),
        temperature=float(spec.get("temperature", 0.0)), logprobs=bool(spec.get("logprobs", False)),
        doc_tokens=int(spec.get("doc_tokens", 2000)), excerpt_tokens=(int(excerpt[0]), int(excerpt[1])),
        cites=str(spec.get("cites") or ""), source=source, taxonomy=tax,
    )


def load_taxonomy(path: str) -> dict:
    """A taxonomy YAML (configs/taxonomies/*.yaml): `name` and `labels` with label/name/description."""
    p = Path(path)
    if not p.is_file():
        raise StageError(f"taxonomy {path}: no such file")
    try:
        spec = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise StageError(f"taxonomy {path}: not valid YAML ({e})") from None
    labels = spec.get("labels") if isinstance(spec, dict) else None
    if not labels or not all(isinstance(x, dict) and "label" in x for x in labels):
        raise StageError(f"taxonomy {path}: needs `labels`, a list of {{label, name, description}}")
    if len(labels) > len(LETTERS):
        raise StageError(f"taxonomy {path}: {len(labels)} categories; a lettered answer allows at most {len(LETTERS)}")
    return {"name": str(spec.get("name") or p.stem), "path": str(p.resolve()),
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "labels": [{"label": str(x["label"]), "name": str(x.get("name") or x["label"]),
                        "description": str(x.get("description") or "").strip()} for x in labels]}
