"""Rewrite policies: which documents go to rewriting, in which styles, within which budgets.

A policy is a YAML file (examples in docs/rewrite.md), validated before any work:

    name: rewire-middle
    band: {column: quality_score, low: 20, high: 60}       # global percentiles (REWIRE's middle)
    styles: [wikipedia]                                   # every selected document, every style listed
    # or  mix: {easy: 1, wikipedia: 1, hard: 1, qa: 1}     # one style per document, weighted (WRAP)
    # or  route: {column: quality_bucket, routes: [{max: 11, styles: [wikipedia_paraphrase]},
    #                                              {min: 12, styles: [diverse_qa, distill]}]}  (Nemotron-CC)
    budget: {max_docs: 100000, max_tokens: 50000000}      # input tokens of all requests
    domains: {column: url_host, max_share: 0.02, keep_mix: true}
    model: gpt-4o-mini
    price: {input_per_million: 0.075, output_per_million: 0.30}

Exactly one of `styles`, `mix`, `route` says which styles a document gets.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curate.rewrite.styles import Style, StyleError, load_style


class PolicyError(Exception):
    """The policy file is invalid; the message names the file and key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Model):
    column: str = Field(description="Score column (ratings, model-filter score, ...).")
    low: float = Field(0, ge=0, le=100, description="Lower percentile over the whole input (inclusive).")
    high: float = Field(100, ge=0, le=100, description="Upper percentile (exclusive, except 100).")

    @model_validator(mode="after")
    def _ordered(self):
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class Route(_Model):
    min: float | None = Field(None, description="Smallest bucket value of this route (inclusive).")
    max: float | None = Field(None, description="Largest bucket value of this route (inclusive).")
    styles: list[str] = Field(min_length=1)

    def matches(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Routing(_Model):
    column: str = Field(description="Bucket column (e.g. a 0-19 quality bucket).")
    routes: list[Route] = Field(min_length=1, description="First matching route wins.")

    def styles_for(self, value: float) -> list[str] | None:
        for route in self.routes:
            if route.matches(value):
                return route.styles
        return None


class Budget(_Model):
    max_docs: int | None = Field(None, gt=0, description="Most documents queued by one export.")
    max_tokens: int | None = Field(None, gt=0, description="Most input tokens of all requests of one export.")


class Domains(_Model):
    column: str = Field("url_host", description="Domain column, or url_host for the host of `url`.")
    max_docs: int | None = Field(None, gt=0, description="Most documents per domain.")
    max_share: float | None = Field(None, gt=0, le=1, description="Most documents per domain as a share of the "
                                    "document budget (budget.max_docs, else max_tokens / estimated tokens per document).")
    keep_mix: bool = Field(False, description="Cap each domain at its share of the eligible documents x the document "
                                              "budget (+ slack), so the queue keeps the corpus's domain mix.")
    slack: float = Field(0.1, ge=0, description="Headroom over each domain's proportional share (keep_mix).")


class Price(_Model):
    input_per_million: float = Field(0.0, ge=0, description="Price per million input tokens.")
    output_per_million: float = Field(0.0, ge=0, description="Price per million output tokens.")
    output_ratio: float = Field(1.0, gt=0, description="Expected output tokens per input token (capped by each "
                                                        "style's output limit), for the cost estimate.")
    currency: str = "USD"


class Policy(_Model):
    name: str = "rewrite"
    band: Band | None = None
    styles: list[str] | None = Field(None, min_length=1)
    mix: dict[str, float] | None = None
    route: Routing | None = None
    budget: Budget = Budget()
    domains: Domains | None = None
    model: str = Field("default", description="Model name written into every request.")
    params: dict = Field(default_factory=dict, description="Request parameters added to every style's own.")
    price: Price = Price()
    oversize: Literal["skip_document", "own_chunk"] = Field(
        "skip_document", description="A paragraph longer than the style's input budget: skip the document, "
                                     "or send the paragraph as an over-budget chunk of its own.")
    language_column: str = Field("language", description="Column with the language code, for token estimates.")
    carry_columns: list[str] = Field(
        default_factory=lambda: ["language", "domain", "topic", "format"],
        description="Parent columns copied onto the rewrites (besides url), e.g. domain tags.")
    seed: str = Field("", description="Salt of the hash sampling (mix choice and budget sample).")

    @model_validator(mode="after")
    def _one_style_rule(self):
        given = [k for k in ("styles", "mix", "route") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of styles, mix, route" + (f" (got {', '.join(given)})" if given else ""))
        if self.mix is not None:
            if not self.mix or any(w < 0 for w in self.mix.values()) or sum(self.mix.values()) <= 0:
                raise ValueError("mix: weights must be >= 0 and not all 0")
        if (self.domains and (self.domains.max_share or self.domains.keep_mix)
                and not (self.budget.max_docs or self.budget.max_tokens)):
            raise ValueError("domains.max_share and domains.keep_mix need a budget (max_docs or max_tokens)")
        return self

    def style_names(self) -> list[str]:
        if self.styles is not None:
            return list(self.styles)
        if self.mix is not None:
            return [s for s, w in self.mix.items() if w > 0]
        names: list[str] = []
        for route in self.route.routes:
            names += [s for s in route.styles if s not in names]
        return names

    def load_styles(self) -> dict[str, Style]:
        """Every style the policy names, loaded and validated, by the name the policy uses."""
        return {name: load_style(name) for name in self.style_names()}

    def hash(self, styles: dict[str, Style]) -> str:
        """Changes when the policy or any of its templates changes."""
        payload = {"policy": self.model_dump(mode="json"), "styles": {k: s.model_dump(mode="json") for k, s in styles.items()}}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def load_policy(path: Path) -> tuple[Policy, dict[str, Style]]:
    """Read and validate a policy file and every style it names."""
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"policy file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise PolicyError(f"policy file {path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"policy file {path}: expected a mapping of keys")
    try:
        policy = Policy(**data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'policy'}: {err['msg']}" for err in e.errors())
        raise PolicyError(f"policy file {path}: {problems}") from None
    # styles named by a relative path are taken from the policy's folder
    try:
        styles = {}
        for name in policy.style_names():
            ref = name
            if name.endswith((".yaml", ".yml")) and not Path(name).is_absolute():
                ref = str((path.parent / name).resolve())
            styles[name] = load_style(ref)
    except StyleError as e:
        raise PolicyError(f"policy file {path}: {e}") from None
    return policy, styles
