"""Scoring documents with fastText classifiers, in batches, one loaded model per process.

Training (train.py) and scoring use the same `classifier_line`, so a model sees at run time
exactly the kind of line it was trained on.

What a model writes, in a column named after it (`column_for`):
- binary (a positive label is known): the probability of the positive label;
- several numeric labels (e.g. 0..5 educational value): each label's probability in
  `<column>__<label>` and their expected value in `<column>`;
- several other labels: each label's probability in `<column>__<label>` and the most
  probable label in `<column>`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from curate.langid import LABEL_PREFIX, load_fasttext
from curate.models import ModelInfo, resolve_model
from curate.errors import StageError

# Labels `curate train-classifier` writes for --positive/--negative; DCLM's own filter used hq/cc.
POSITIVE, NEGATIVE = "positive", "negative"
KNOWN_POSITIVE_LABELS = (POSITIVE, "hq")


def classifier_line(text: str, max_chars: int | None) -> str:
    """One line of text, as DCLM fed its fastText filter: lines joined by spaces, cut to max_chars.

    Cutting first keeps the cost per document bounded on huge pages.
    """
    if max_chars is not None:
        text = text[:max_chars]
    return " ".join(text.strip().splitlines())


def column_for(model_name: str) -> str:
    """The score column for a model: its name with anything but letters, digits and _ as _."""
    return re.sub(r"\W", "_", model_name)


def _as_number(label: str) -> float | None:
    try:
        return float(label)
    except ValueError:
        return None


@dataclass(frozen=True)
class ModelScorer:
    """One fastText classifier and how to turn its label probabilities into columns."""

    name: str
    path: str
    column: str
    labels: tuple[str, ...]
    positive: str | None  # set for binary models: the label whose probability is the score

    @property
    def numeric(self) -> bool:
        return all(_as_number(label) is not None for label in self.labels)

    @property
    def has_numeric_score(self) -> bool:
        """Whether `column` is a number a threshold or a quantile applies to."""
        return self.positive is not None or self.numeric

    def score(self, lines: Sequence[str]) -> dict[str, list]:
        """Columns for a batch of normalised lines."""
        ft = load_fasttext(self.path)
        labels, probs = ft.predict(list(lines), k=-1)
        per_doc = [
            {label[len(LABEL_PREFIX):]: float(p) for label, p in zip(doc_labels, doc_probs)}
            for doc_labels, doc_probs in zip(labels, probs)
        ]
        if self.positive is not None:
            return {self.column: [d.get(self.positive, 0.0) for d in per_doc]}
        out = {f"{self.column}__{label}": [d.get(label, 0.0) for d in per_doc] for label in self.labels}
        if self.numeric:
            values = {label: _as_number(label) for label in self.labels}
            out[self.column] = [sum(values[k] * p for k, p in d.items()) for d in per_doc]
        else:
            out[self.column] = [max(d, key=d.get) if d else None for d in per_doc]
        return out


def _positive_label(info: ModelInfo, labels: tuple[str, ...], override: str | None) -> str | None:
    """The label whose probability is a binary model's score; None when not known (then every
    label's probability is written, and numeric labels give an expected value)."""
    if override is not None:
        if override not in labels:
            raise StageError(f"model {info.name!r}: positive label {override!r} is not one of its labels {list(labels)}")
        return override
    if len(labels) != 2:
        return None
    recorded = info.meta.get("positive_label")
    if recorded in labels:
        return recorded
    return next((label for label in KNOWN_POSITIVE_LABELS if label in labels), None)


def load_scorer(name_or_path: str, positive_label: str | None = None, verify: bool = False) -> ModelScorer:
    """Resolve, load and describe a model. The stage's check() verifies sha256 once in the main
    process before any work (verify=True); workers then only look the model up."""
    info, path = resolve_model(name_or_path, verify=verify)
    # keyed by sha256 too, so a model retrained under the same name in one process is reloaded
    return _describe(info.name, str(path), info.sha256, positive_label, info.meta.get("positive_label"))


@functools.cache
def _describe(name: str, path: str, sha256: str, positive_label: str | None, meta_positive: str | None) -> ModelScorer:
    info = ModelInfo(name=name, path=path, sha256=sha256, meta={"positive_label": meta_positive})
    try:
        ft = load_fasttext(path)
    except ValueError as e:  # fastText's message for a file that is not a model
        raise StageError(f"model {name!r}: {path} is not a fastText model ({e})") from None
    if ft.f.getArgs().model.name != "supervised":
        raise StageError(f"model {name!r}: {path} is a fastText word-vector model, not a classifier")
    labels = tuple(label[len(LABEL_PREFIX):] for label in ft.get_labels())
    return ModelScorer(name, path, column_for(name), labels, _positive_label(info, labels, positive_label))

