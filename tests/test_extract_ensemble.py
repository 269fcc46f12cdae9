"""scripts/train_extract_blocks.py --ensemble: K networks' averaged logits as one wider network.

The merged network must give exactly the mean of its members' logits (numpy path) and the same
probabilities through the C forward pass, so an ensemble ships in the ordinary block_model.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from curate.stages.extract import blocks as blocks_mod
from curate.stages.extract.block_model import FEATURES, BlockModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import train_extract_blocks as trainer  # noqa: E402


def toy_data(seed: int = 0) -> dict:
    """Two 'dev sets' of pages whose blocks' label depends nonlinearly on a few features."""
    rng = np.random.default_rng(seed)
    data = {}
    for name in ("readability", "trafeval"):
        rows = []
        for i in range(12):
            n = 15
            x = rng.normal(size=(n, len(FEATURES)))
            x[:, 0] = 1.0
            y = [float(a * b > 0) if k % 5 else None for k, (a, b) in enumerate(zip(x[:, 1], x[:, 3]))]
            rows.append(({"name": f"{name}-{i}"}, [None] * n, x, y))
        data[name] = rows
    return data


@pytest.fixture(scope="module")
def members_and_merged():
    data = toy_data()
    members = [BlockModel(trainer.train(data, 4, 1e-2, s)) for s in trainer.member_seeds(7, 3)]
    merged = BlockModel(trainer.train(data, 4, 1e-2, 7, ensemble=3))
    return data, members, merged


def test_ensemble_is_one_network_with_k_times_the_hidden_units(members_and_merged):
    _, members, merged = members_and_merged
    assert [w.shape for w, _ in merged.layers] == [(len(FEATURES), 12), (12, 1)]
    assert trainer.member_seeds(7, 1) == [7]  # K=1 is the single network of --seed


def test_merged_logits_are_the_mean_of_the_members(members_and_merged):
    data, members, merged = members_and_merged
    x = np.vstack([r[2] for rows in data.values() for r in rows])
    mean = np.mean([m.logits(x) for m in members], axis=0)
    # the weights are rounded to 6 decimals in the model file, members and merged alike
    assert np.abs(merged.logits(x) - mean).max() < 1e-4
    assert np.abs(members[0].logits(x) - members[1].logits(x)).max() > 1e-3  # the members do differ


def test_average_logits_is_exact_before_rounding():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 6))
    nets = [[(rng.normal(size=(6, 5)), rng.normal(size=5)), (rng.normal(size=(5, 1)), rng.normal(size=1))] for _ in range(4)]

    def logit(layers):
        h = x
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            h = np.tanh(h) if i + 1 < len(layers) else h
        return h[:, 0]

    merged = trainer.average_logits(nets)
    assert np.allclose(logit(merged), np.mean([logit(n) for n in nets], axis=0), atol=1e-12)
    linear = [[(rng.normal(size=(6, 1)), rng.normal(size=1))] for _ in range(3)]
    assert np.allclose(logit(trainer.average_logits(linear)), np.mean([logit(n) for n in linear], axis=0), atol=1e-12)


@pytest.mark.skipif(blocks_mod._blockfeat is None, reason="the C module was not built (no C compiler at install)")
def test_c_forward_pass_runs_the_merged_network(members_and_merged):
    data, _, merged = members_and_merged
    x = np.ascontiguousarray(np.vstack([r[2] for rows in data.values() for r in rows]))
    p = np.empty(len(x))
    blocks_mod._blockfeat.mlp(x, merged.mean, merged.scale, merged.layers, p)
    assert np.abs(p - 1 / (1 + np.exp(-merged.logits(x)))).max() < 1e-12
