"""Scalar ratings from pairwise preferences: a Bradley-Terry fit, as QuRating did.

Model: P(a beats b) = sigmoid(s_a - s_b). Each comparison carries a soft target p in [0, 1] (the
calibrated probability that a is better, averaged over both presentation orders), so the fit
minimises the cross-entropy sum_i [-p_i log sigmoid(d_i) - (1 - p_i) log sigmoid(-d_i)],
d_i = s_a - s_b, plus a small L2 term that pins the scale's origin and keeps documents that won
(or lost) every comparison finite. Ratings are centred at 0; their unit is the log-odds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash
from scipy.optimize import minimize
from scipy.special import expit, log_expit


def calibrated(p_ab: float, p_ba: float) -> float:
    """P(a better than b) from both orders: p_ab = P(first shown wins | a first), p_ba = the same with
    b first. Averaging cancels a constant position bias (QuRating)."""
    return (p_ab + 1.0 - p_ba) / 2.0


def fit(n: int, a: np.ndarray, b: np.ndarray, p: np.ndarray, l2: float = 0.01) -> np.ndarray:
    """Ratings s (length n) from comparisons a[i] vs b[i] with target P(a wins) = p[i]."""
    a, b, p = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64), np.asarray(p, dtype=np.float64)

    def loss(s: np.ndarray):
        d = s[a] - s[b]
        value = -(p * log_expit(d) + (1 - p) * log_expit(-d)).sum() + l2 * (s @ s)
        g_d = expit(d) - p  # d(loss)/d(d)
        grad = np.bincount(a, weights=g_d, minlength=n) - np.bincount(b, weights=g_d, minlength=n) + 2 * l2 * s
        return value, grad

    result = minimize(loss, np.zeros(n), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    s = result.x
    return s - s.mean()


@dataclass
class FitReport:
    ratings: np.ndarray
    comparisons: int
    held_out: int  # held-out comparisons with a preference (p != 0.5)
    held_out_accuracy: float | None  # share of them whose winner the fit without them predicts


def fit_with_check(n: int, a, b, p, keys: list[str], held_out_fraction: float = 0.1, l2: float = 0.01) -> FitReport:
    """Fit on all comparisons; report accuracy on a held-out tenth (chosen by a hash of each
    comparison's key) predicted by a fit on the rest."""
    a, b, p = np.asarray(a), np.asarray(b), np.asarray(p, dtype=np.float64)
    held = np.array([xxhash.xxh3_64_intdigest(k) % 10_000 < held_out_fraction * 10_000 for k in keys], dtype=bool)
    accuracy, counted = None, 0
    if held.any() and (~held).any():
        s = fit(n, a[~held], b[~held], p[~held], l2)
        decided = held & (p != 0.5)
        counted = int(decided.sum())
        if counted:
            predicted = s[a[decided]] > s[b[decided]]
            accuracy = float((predicted == (p[decided] > 0.5)).mean())
    return FitReport(fit(n, a, b, p, l2), len(p), counted, accuracy)
