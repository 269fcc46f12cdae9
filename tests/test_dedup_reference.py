"""curate's MinHash and LSH against datasketch, the standard MinHash library, on the same shingles.

Both are random estimators with different hash functions, so they cannot agree bit for bit;
they must agree in distribution. Every tolerance below comes from the estimators' theory,
not from a run: with k hash functions the MinHash estimate of a pair's Jaccard similarity J
is a binomial mean, variance J(1-J)/k; a pair becomes an LSH candidate (b bands of r rows)
with probability P(J) = 1 - (1 - J**r)**b. Bounds are 4.5 standard deviations, so over
the few hundred checks here a correct estimator fails with probability below 1e-3 (the
hashes are seeded, so the outcome is also the same on every run).
"""

from __future__ import annotations

import math
import random

import datasketch  # the `test` extra installs it
import numpy as np
import pytest

from curate.stages.dedup.lsh import PRESETS, band_keys, detection_probability
from curate.stages.dedup.minhash import MinHasher
from curate.stages.dedup.normalize import shingle_words
from curate.stages.dedup.sign import sketch_similarity

PARAMS = PRESETS["curate"]  # 5-gram shingles, 20 bands x 7 rows = 140 hashes, as the stage runs
K = PARAMS.hashes
Z = 4.5
PAIRS = 600
DOC_WORDS = 300


def _word(rng: random.Random) -> str:
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=7))  # letters only: digits are folded to 0


def _pairs() -> list[tuple[str, str]]:
    """Document pairs spanning Jaccard ~0.25..1 around the LSH threshold (0.65): B is A with a
    random number of words replaced by new ones (each replacement changes up to 5 shingles)."""
    rng = random.Random(20240)
    pairs = []
    for _ in range(PAIRS):
        a = [_word(rng) for _ in range(DOC_WORDS)]
        b = list(a)
        for pos in rng.sample(range(DOC_WORDS), rng.randint(0, 40)):
            b[pos] = _word(rng)
        pairs.append((" ".join(a), " ".join(b)))
    return pairs


def _shingles(text: str) -> set[bytes]:
    """The shingles curate's MinHasher hashes: word n-grams of the normalised words."""
    w = shingle_words(text)
    n = PARAMS.ngram
    return {" ".join(w[i:i + n]).encode() for i in range(len(w) - n + 1)}


def _reference(shingles: set[bytes]):
    m = datasketch.MinHash(num_perm=K, seed=7)
    m.update_batch(sorted(shingles))
    return m


@pytest.fixture(scope="module")
def measured() -> dict:
    pairs = _pairs()
    hasher = MinHasher(PARAMS.ngram, K, PARAMS.seed)
    texts = [t for pair in pairs for t in pair]
    sig, has_sig = hasher.signatures(texts)
    assert len(has_sig) == len(texts)
    sig_a, sig_b = sig[0::2], sig[1::2]
    keys = band_keys(sig, PARAMS.bands, PARAMS.rows)
    keys_a, keys_b = keys[0::2], keys[1::2]

    true_j, ref_est, ref_candidate = [], [], []
    lsh = datasketch.MinHashLSH(num_perm=K, params=(PARAMS.bands, PARAMS.rows))
    ref_b = []
    for i, (a, b) in enumerate(pairs):
        sa, sb = _shingles(a), _shingles(b)
        true_j.append(len(sa & sb) / len(sa | sb))
        ma, mb = _reference(sa), _reference(sb)
        ref_est.append(ma.jaccard(mb))
        lsh.insert(f"a{i}", ma)
        ref_b.append(mb)
    for i, mb in enumerate(ref_b):
        ref_candidate.append(f"a{i}" in lsh.query(mb))
    return {
        "J": np.array(true_j),
        "curate": (sig_a == sig_b).mean(axis=1),
        "sketch": sketch_similarity((sig_a & 0xFF).astype(np.uint8), (sig_b & 0xFF).astype(np.uint8)),
        "reference": np.array(ref_est),
        "curate_candidate": (keys_a == keys_b).any(axis=1),
        "rows_equal_in_a_band": (sig_a == sig_b).reshape(PAIRS, PARAMS.bands, PARAMS.rows).all(axis=2).any(axis=1),
        "reference_candidate": np.array(ref_candidate),
    }


def _sd(j: np.ndarray) -> np.ndarray:
    return np.sqrt(j * (1 - j) / K)


def test_the_pairs_span_the_lsh_threshold(measured):
    j = measured["J"]
    threshold = (1 / PARAMS.bands) ** (1 / PARAMS.rows)
    assert (j < threshold - 0.1).sum() >= 50 and (j > threshold + 0.1).sum() >= 50 and j.max() == 1.0


@pytest.mark.parametrize("which", ["curate", "reference"])
def test_jaccard_estimates_are_unbiased_with_the_binomial_variance(measured, which):
    j, est = measured["J"], measured[which]
    exact = j == 1.0
    assert (est[exact] == 1.0).all(), "identical shingle sets must estimate exactly 1"
    j, est = j[~exact], est[~exact]
    z = (est - j) / _sd(j)
    worst = int(np.argmax(np.abs(z)))
    assert np.abs(z).max() <= Z, f"pair with J={j[worst]:.3f} estimated {est[worst]:.3f} ({z[worst]:+.1f} sd)"
    # bias: the mean error over n pairs has sd sqrt(sum var)/n
    bias_sd = math.sqrt((_sd(j) ** 2).sum()) / len(j)
    assert abs((est - j).mean()) <= Z * bias_sd, f"mean error {(est - j).mean():+.4f}, allowed {Z * bias_sd:.4f}"
    # spread: sum of z**2 is chi-square with n degrees of freedom (mean n, sd sqrt(2n)); hash
    # functions that were not independent would inflate it
    n = len(j)
    assert abs((z ** 2).sum() - n) <= Z * math.sqrt(2 * n), f"sum z^2 = {(z ** 2).sum():.0f} for {n} pairs"


def test_curate_and_datasketch_estimates_agree_pair_by_pair(measured):
    j, ours, ref = measured["J"], measured["curate"], measured["reference"]
    sd_diff = np.sqrt(2) * _sd(j)  # two independent estimates of the same J
    inexact = j < 1.0
    diff = np.abs(ours - ref)[inexact] / sd_diff[inexact]
    assert diff.max() <= Z, f"largest disagreement {diff.max():.1f} sd"
    assert np.abs(ours - ref).mean() < 0.05


def test_the_sketch_estimate_used_for_min_similarity_matches_its_b_bit_variance(measured):
    """The dedup's min_similarity check uses the low byte of each hash (b-bit minwise hashing):
    bytes agree with probability p = J + (1 - J)/256, so the estimate's sd is sqrt(p(1-p)/k)/(1 - 1/256)."""
    j, est = measured["J"], measured["sketch"]
    p = j + (1 - j) / 256
    sd = np.sqrt(p * (1 - p) / K) / (1 - 1 / 256)
    inexact = j < 1.0
    z = (est - j)[inexact] / sd[inexact]
    assert np.abs(z).max() <= Z
    assert abs((est - j)[inexact].mean()) <= Z * math.sqrt((sd[inexact] ** 2).sum()) / inexact.sum()


def test_lsh_candidates_follow_the_s_curve_like_datasketch(measured):
    j = measured["J"]
    ours, ref = measured["curate_candidate"], measured["reference_candidate"]
    # curate's band key is a hash of the band's rows: equal keys exactly when all rows are equal
    assert (ours == measured["rows_equal_in_a_band"]).all()
    assert ours[j == 1.0].all() and ref[j == 1.0].all()
    p = detection_probability(j, PARAMS.bands, PARAMS.rows)
    # per similarity bin, the number of candidates is a sum of Bernoullis with mean sum(p), var sum(p(1-p))
    for lo, hi in [(0.0, 0.55), (0.55, 0.7), (0.7, 0.8), (0.8, 1.0)]:
        sel = (j >= lo) & (j < hi)
        assert sel.sum() >= 30, f"too few pairs with J in [{lo}, {hi})"
        expected, var = p[sel].sum(), (p[sel] * (1 - p[sel])).sum()
        sd = math.sqrt(max(var, 1.0))  # at least one pair of slack where p is ~0 or ~1 throughout
        for name, cand in (("curate", ours), ("datasketch", ref)):
            got = int(cand[sel].sum())
            assert abs(got - expected) <= Z * sd, f"{name}: {got} candidates in J [{lo}, {hi}), expected {expected:.1f} ± {sd:.1f}"
        diff = int(ours[sel].sum()) - int(ref[sel].sum())
        assert abs(diff) <= Z * math.sqrt(2) * sd, f"J [{lo}, {hi}): curate and datasketch differ by {diff} candidates"
