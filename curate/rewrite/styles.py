"""Rewrite styles: prompt templates with their limits, expected answer prefix and answer parser.

A style is a YAML file (built-in ones in configs/prompts/rewrite/, a user's by path):

    name: wikipedia
    version: "1"                    # part of every request id: bump when the wording changes
    method: "WRAP (Maini et al., 2024), 'Wikipedia-like' style"
    input_tokens: 300               # chunk budget
    output_tokens: 512              # max_tokens of the request
    min_segment_tokens: 30          # shorter documents are not worth a request
    answer_prefix: "Rewritten text:"
    parser: text                    # text | qa | list | json
    answer_field: rewritten_text    # json styles only: the JSON answer's field that holds the text
    system: "..."                   # optional
    user: "... {document} ..."      # {document} becomes the delimited block

The document is always placed inside a delimited block (DOCUMENT_START ... DOCUMENT_END), and
every template says the block is data to rewrite, not instructions. A document containing the
end marker has it defused, so a page cannot close the block early and speak as the user.

A `parser: json` style asks for structured output instead of an answer prefix: every request
carries a `response_format` JSON schema built from `answer_field` (one required string field, no
other fields, `strict`: OpenAI Structured Outputs, vLLM guided decoding and llama.cpp all
constrain decoding to it), and ingest takes that field of the parsed answer as the text. Small
models that ignore free-text format instructions still follow a schema. The schema stays in
OpenAI's strict subset (no length limits); an empty field is rejected at ingest.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from curate.llm.batch import json_schema_format

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "configs" / "prompts" / "rewrite"
DOCUMENT_START = "<<<DOCUMENT"
DOCUMENT_END = "DOCUMENT>>>"
PLACEHOLDER = "{document}"
# An answer's prefix may follow a short preamble ("Sure! ..."): searched for in this many characters.
PREFIX_WINDOW = 200

_QUESTION = re.compile(r"^\s*(?:[-*•]\s*)?(?:\*\*)?(?:Q|Question)\s*\d*\s*(?:\*\*)?\s*[:.)]", re.I | re.M)
_ANSWER = re.compile(r"^\s*(?:[-*•]\s*)?(?:\*\*)?(?:A|Answer)\s*\d*\s*(?:\*\*)?\s*[:.)]", re.I | re.M)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+\S", re.M)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.S)


class StyleError(Exception):
    """A style file is missing or invalid; the message names the file."""


class Style(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="The style's name; rewrites get source rewrite:<name>.")
    version: str = Field(description="Prompt version, part of every request id.")
    method: str = Field(min_length=1, description="The published method this template follows (citation).")
    description: str = ""
    input_tokens: int = Field(gt=0, description="Most tokens of document text per request (the chunk budget).")
    output_tokens: int = Field(gt=0, description="max_tokens of each request.")
    min_segment_tokens: int = Field(0, ge=0, description="Documents with fewer tokens are not queued.")
    answer_prefix: str = Field("", description="What a valid answer starts with; stripped at ingest (not for json).")
    parser: Literal["text", "qa", "list", "json"] = Field("text", description="How an answer is checked at ingest.")
    answer_field: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description=(
        "json styles: the field of the JSON answer that holds the rewritten text; requests carry "
        "a response_format schema asking for exactly this field."))
    system: str | None = None
    user: str
    params: dict = Field(default_factory=dict, description="Extra request parameters (e.g. temperature).")

    @field_validator("user")
    @classmethod
    def _one_placeholder(cls, v: str) -> str:
        if v.count(PLACEHOLDER) != 1:
            raise ValueError(f"must contain {PLACEHOLDER} exactly once")
        return v

    @model_validator(mode="after")
    def _json_needs_field(self) -> "Style":
        if self.parser == "json":
            if not self.answer_field:
                raise ValueError("parser json needs answer_field (the JSON field that holds the rewritten text)")
            if self.answer_prefix:
                raise ValueError("a json style has no answer_prefix (the answer is a JSON object)")
            if "response_format" in self.params:
                raise ValueError("params.response_format: a json style builds it from answer_field")
        elif self.answer_field:
            raise ValueError("answer_field is only for parser json")
        return self

    def response_format(self) -> dict | None:
        """The structured-output request of a json style (OpenAI's response_format shape), else None."""
        if self.parser != "json":
            return None
        schema = {"type": "object", "properties": {self.answer_field: {"type": "string"}},
                  "required": [self.answer_field], "additionalProperties": False}
        return json_schema_format(re.sub(r"[^A-Za-z0-9_-]", "_", f"rewrite_{self.name}")[:64], schema)

    def messages(self, text: str) -> list[dict]:
        """The chat messages of one request for `text` (one chunk)."""
        block = f"{DOCUMENT_START}\n{defuse(text)}\n{DOCUMENT_END}"
        user = self.user.replace(PLACEHOLDER, block)
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        msgs.append({"role": "user", "content": user})
        return msgs

    def prompt(self, text: str) -> str:
        """The same request as one plain prompt, for offline engines that take text."""
        return "\n\n".join(m["content"] for m in self.messages(text))

    def request_params(self) -> dict:
        fmt = self.response_format()
        return {"max_tokens": self.output_tokens, **self.params, **({"response_format": fmt} if fmt else {})}

    def parse(self, answer: str) -> tuple[str | None, str | None]:
        """(rewritten text, None) for a usable answer, else (None, reason): empty,
        missing_prefix or wrong_format. Refusals and truncation are checked by the caller."""
        body, reason, _ = self.parse_detail(answer)
        return body, reason

    def parse_detail(self, answer: str) -> tuple[str | None, str | None, str]:
        """parse() with a one-line detail of what is wrong ("" for a usable answer)."""
        body = answer.strip()
        if not body:
            return None, "empty", "empty answer"
        if self.parser == "json":
            return self._parse_json(body)
        if self.answer_prefix:
            at = body.find(self.answer_prefix, 0, PREFIX_WINDOW + len(self.answer_prefix))
            if at < 0:
                return None, "missing_prefix", f"expected {self.answer_prefix!r}"
            body = body[at + len(self.answer_prefix):].strip()
            if not body:
                return None, "empty", "nothing after the answer prefix"
        if self.parser == "qa" and not (_QUESTION.search(body) and _ANSWER.search(body)):
            return None, "wrong_format", f"no question/answer pairs (style {self.name})"
        if self.parser == "list" and len(_LIST_ITEM.findall(body)) < 2:
            return None, "wrong_format", f"fewer than two list items (style {self.name})"
        return body, None, ""

    def _parse_json(self, body: str) -> tuple[str | None, str | None, str]:
        # A server without constrained decoding may wrap the object in a Markdown code fence.
        fenced = _FENCE.fullmatch(body)
        if fenced:
            body = fenced.group(1)
        try:
            data = json.loads(body)
        except ValueError as e:
            return None, "wrong_format", f"not valid JSON ({e.msg} at char {e.pos})"
        if not isinstance(data, dict):
            return None, "wrong_format", f"JSON {type(data).__name__}, not an object with {self.answer_field!r}"
        if self.answer_field not in data:
            return None, "wrong_format", f"JSON object without the field {self.answer_field!r}"
        value = data[self.answer_field]
        if not isinstance(value, str):
            return None, "wrong_format", f"field {self.answer_field!r} is {type(value).__name__}, not a string"
        if not value.strip():
            return None, "empty", f"field {self.answer_field!r} is empty"
        return value.strip(), None, ""


def defuse(text: str) -> str:
    """Break up the block's markers inside document text, so the document stays inside the block."""
    if DOCUMENT_END in text or DOCUMENT_START in text:
        text = text.replace(DOCUMENT_END, "DOCUMENT> >>").replace(DOCUMENT_START, "< <<DOCUMENT")
    return text


def builtin_styles() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


@functools.cache
def load_style(name_or_path: str) -> Style:
    """A built-in style by name, or a user's style file by path."""
    path = Path(name_or_path)
    if not (name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path):
        path = BUILTIN_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise StyleError(f"unknown rewrite style {name_or_path!r}; built-in styles: {', '.join(builtin_styles())} "
                             f"(or give a template file by path)")
    if not path.is_file():
        raise StyleError(f"style file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise StyleError(f"style file {path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise StyleError(f"style file {path}: expected a mapping of keys")
    try:
        return Style(**data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'style'}: {err['msg']}" for err in e.errors())
        raise StyleError(f"style file {path}: {problems}") from None
