"""Deciding, document by document, whether the policy sends it to rewriting and in which styles.

Every decision has a reason (counted in the export manifest): `queued`, or why not. Sampling
and the style mix use hashes of the document id, so the same input gives the same queue, and a
document keeps its style when more input is appended. Budgets are met with a uniform hash
sample sized from the first pass's eligible counts (so the queue is spread over the whole input,
not taken from its first shards), then enforced exactly as documents are taken.
"""

from __future__ import annotations

import math
import re

import xxhash

from curate.rewrite.policy import Policy
from curate.rewrite.scan import HOST_REGEX, URL_HOST, InputStats

_HOST = re.compile(HOST_REGEX)
_TWO_64 = float(2**64)


def unit_hash(*parts: str) -> float:
    """A stable number in [0, 1) from strings."""
    return xxhash.xxh3_64_intdigest("\x1f".join(parts)) / _TWO_64


def url_host(url) -> str:
    if not isinstance(url, str):
        return ""
    m = _HOST.match(url)
    return m.group(2).lower() if m else ""


def as_number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


class Selector:
    """Per-document decisions for one export, with the running budget and domain counts."""

    def __init__(self, policy: Policy, stats: InputStats, tokens_per_doc: float):
        self.policy, self.stats = policy, stats
        self.docs = 0
        self.tokens = 0
        self.per_domain: dict[str, int] = {}
        self.sample_rate = self._sample_rate(tokens_per_doc)
        # documents the budget allows: max_docs, else what max_tokens buys at the mean document size
        b = policy.budget
        self.doc_budget = b.max_docs or (int(b.max_tokens / tokens_per_doc) if b.max_tokens and tokens_per_doc > 0 else None)
        if policy.mix is not None:
            total = sum(policy.mix.values())
            acc, self._mix = 0.0, []
            for name, w in policy.mix.items():
                if w > 0:
                    acc += w / total
                    self._mix.append((acc, name))

    def _sample_rate(self, tokens_per_doc: float) -> float:
        """The share of eligible documents the budget can take, with headroom (10% plus three
        standard deviations of the sample size, so small budgets are filled too; the exact cap
        is enforced as documents are taken, so headroom only avoids falling short)."""
        b, eligible = self.policy.budget, self.stats.eligible
        if not eligible:
            return 1.0
        docs = []
        if b.max_docs:
            docs.append(b.max_docs)
        if b.max_tokens and tokens_per_doc > 0:
            docs.append(b.max_tokens / tokens_per_doc)
        if not docs:
            return 1.0
        n = min(docs)
        return min(1.0, (1.1 * n + 3 * math.sqrt(n) + 1) / eligible)

    def styles_for(self, doc: dict) -> tuple[list[str] | None, str]:
        """The style names the policy gives `doc`, or None and the reason it is not eligible."""
        p = self.policy
        if p.band:
            score = as_number(doc.get(p.band.column))
            if score is None:
                return None, "no_score"
            lo, hi = self.stats.band
            if score < lo:
                return None, "below_band"
            if score > hi or (score == hi and p.band.high < 100):
                return None, "above_band"
        if p.styles is not None:
            return list(p.styles), ""
        if p.mix is not None:
            u = unit_hash("mix", p.seed, str(doc.get("id")))
            for acc, name in self._mix:
                if u < acc:
                    return [name], ""
            return [self._mix[-1][1]], ""
        bucket = as_number(doc.get(p.route.column))
        if bucket is None:
            return None, "no_bucket"
        styles = p.route.styles_for(bucket)
        return (styles, "") if styles else (None, "unrouted")

    def sampled(self, doc_id: str) -> bool:
        return self.sample_rate >= 1.0 or unit_hash("sample", self.policy.seed, doc_id) < self.sample_rate

    def domain_of(self, doc: dict) -> str:
        d = self.policy.domains
        if d is None:
            return ""
        if d.column == URL_HOST:
            return url_host(doc.get("url"))
        value = doc.get(d.column)
        return "" if value is None else str(value)

    def domain_cap(self, domain: str) -> int | None:
        d, budget = self.policy.domains, self.doc_budget
        if d is None:
            return None
        caps = []
        if d.max_docs:
            caps.append(d.max_docs)
        if d.max_share and budget:
            caps.append(max(1, math.floor(d.max_share * budget)))
        if d.keep_mix and budget and self.stats.eligible:
            share = self.stats.domain_counts.get(domain, 0) / self.stats.eligible
            caps.append(max(1, math.ceil(share * budget * (1 + d.slack))))
        return min(caps) if caps else None

    def domain_full(self, domain: str) -> bool:
        cap = self.domain_cap(domain)
        return cap is not None and self.per_domain.get(domain, 0) >= cap

    def over_budget(self, tokens: int) -> bool:
        b = self.policy.budget
        return bool((b.max_docs and self.docs + 1 > b.max_docs) or (b.max_tokens and self.tokens + tokens > b.max_tokens))

    def budget_full(self) -> bool:
        """No further document can be taken at all (the document budget is used up)."""
        b = self.policy.budget
        return bool(b.max_docs and self.docs >= b.max_docs)

    def take(self, domain: str, tokens: int) -> None:
        self.docs += 1
        self.tokens += tokens
        self.per_domain[domain] = self.per_domain.get(domain, 0) + 1
