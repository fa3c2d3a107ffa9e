"""Each selection scorer on small synthetic features with a known answer."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from sklearn.covariance import LedoitWolf

from codereuse.selection.scorers import (GBC, NLEEP, PARC, HScore, LogME, ShrinkageHScore, TransRate,
                                         ledoit_wolf_shrinkage, logme_evidence, logme_fit)
from codereuse.selection.proxies import KNN, LogisticProbe, MLPProxy, knn_leave_one_out


def separable_and_random(n: int = 120, d: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n // 3)
    centres = rng.normal(size=(3, d)) * 4
    good = centres[y] + rng.normal(size=(n, d))
    bad = rng.normal(size=(n, d)) * 3
    return good, bad, y


ALL = [LogME(), HScore(), ShrinkageHScore(), PARC(dims=8), GBC(dims=8), NLEEP(), TransRate(),
       KNN(1), KNN(5), LogisticProbe(), MLPProxy(epochs=15)]


@pytest.mark.parametrize("scorer", ALL, ids=lambda s: type(s).__name__)
def test_separable_features_outscore_random_ones(scorer):
    good, bad, y = separable_and_random()
    assert scorer(good, y) > scorer(bad, y)


def closed_form_evidence(X, t, alpha, beta):
    """log N(t; 0, I / beta + X X^T / alpha): the N x N marginal likelihood, no SVD."""
    n = X.shape[0]
    return multivariate_normal(mean=np.zeros(n), cov=np.eye(n) / beta + X @ X.T / alpha).logpdf(t)


def dxd_evidence(X, t, alpha, beta):
    """The D x D form: A = alpha I + beta X^T X, m = beta A^-1 X^T t."""
    n, d = X.shape
    a = alpha * np.eye(d) + beta * X.T @ X
    m = beta * np.linalg.solve(a, X.T @ t)
    return (n / 2 * np.log(beta) + d / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
            - beta / 2 * np.sum((X @ m - t) ** 2) - alpha / 2 * m @ m - np.linalg.slogdet(a)[1] / 2)


@pytest.mark.parametrize("n,d", [(20, 50), (80, 10)], ids=["N<D", "N>D"])
def test_logme_evidence_is_exact(n, d):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d))
    t = (X[:, 0] > 0).astype(float)
    for alpha, beta in [(0.5, 2.0), logme_fit(X, t)]:
        ours = logme_evidence(X, t, alpha, beta)
        assert ours == pytest.approx(dxd_evidence(X, t, alpha, beta), rel=1e-8, abs=1e-8)
        assert ours == pytest.approx(closed_form_evidence(X, t, alpha, beta), rel=1e-8, abs=1e-8)


def test_logme_fixed_point_maximises_the_evidence():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 60))
    t = X[:, :3].sum(axis=1) + 0.3 * rng.normal(size=30)  # informative: an interior maximum
    alpha, beta = logme_fit(X, t)
    best = logme_evidence(X, t, alpha, beta)
    for scale_a, scale_b in [(1.3, 1), (0.7, 1), (1, 1.3), (1, 0.7)]:
        assert logme_evidence(X, t, alpha * scale_a, beta * scale_b) < best


def test_the_dropped_term_matters_when_n_below_d():
    """The copied code's log|A| (min(N, D) terms only) differs from the exact one by (D-k)/2 log alpha."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 40))
    t = (X[:, 0] > 0).astype(float)
    alpha, beta = logme_fit(X, t)
    sigma = np.linalg.svd(X, compute_uv=False) ** 2
    truncated_log_det = np.sum(np.log(alpha + beta * sigma))
    exact_log_det = np.linalg.slogdet(alpha * np.eye(40) + beta * X.T @ X)[1]
    assert exact_log_det - truncated_log_det == pytest.approx(30 * np.log(alpha), rel=1e-6)
    assert abs(30 * np.log(alpha)) > 1e-3  # not a vanishing correction


def test_knn_leave_one_out_excludes_the_point_itself():
    # twins: each point's nearest other point is its twin, which carries the opposite label
    base = np.random.default_rng(4).normal(size=(10, 5)) * 10
    X = np.concatenate([base, base + 0.01])
    y = np.array([0] * 10 + [1] * 10)
    assert knn_leave_one_out(X, y, 1) == 0.0  # counting the point itself would give 1.0
    X_same = np.concatenate([base, base + 0.01])
    y_same = np.concatenate([np.arange(10) % 2, np.arange(10) % 2])
    assert knn_leave_one_out(X_same, y_same, 1) == 1.0


def test_hscore_is_invariant_to_invertible_linear_maps():
    good, _, y = separable_and_random()
    transform = np.random.default_rng(5).normal(size=(16, 16))
    assert HScore()(good @ transform, y) == pytest.approx(HScore()(good, y), rel=1e-6)
    assert ShrinkageHScore()(good * 7.0, y) == pytest.approx(ShrinkageHScore()(good, y), rel=1e-6)


def test_parc_is_invariant_to_scale_and_feature_order():
    good, _, y = separable_and_random()
    order = np.random.default_rng(6).permutation(16)
    reference = PARC(dims=None)(good, y)
    assert PARC(dims=None)(3.0 * good[:, order], y) == pytest.approx(reference, rel=1e-9)


def test_gbc_is_invariant_to_per_dimension_scale_and_zero_for_disjoint_classes():
    good, _, y = separable_and_random()
    scales = np.random.default_rng(7).uniform(0.1, 10, size=16)
    assert GBC(dims=None)(good * scales, y) == pytest.approx(GBC(dims=None)(good, y), rel=1e-6)
    far = np.concatenate([np.random.default_rng(8).normal(size=(40, 4)) + 1000 * c for c in range(3)])
    assert GBC(dims=None)(far, np.repeat([0, 1, 2], 40)) == pytest.approx(0.0, abs=1e-9)


def test_nleep_known_values():
    y = np.repeat([0, 1], 50)
    rng = np.random.default_rng(9)
    clusters = np.concatenate([rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 100])
    assert NLEEP(variance=0.99)(clusters, y) == pytest.approx(0.0, abs=1e-3)  # clusters are the classes
    noise = rng.normal(size=(100, 3))
    assert NLEEP(variance=0.99)(noise, y) == pytest.approx(np.log(0.5), abs=0.1)  # -H(y) for balanced labels


def test_transrate_is_invariant_to_scale():
    good, _, y = separable_and_random()
    assert TransRate()(good * 50, y) == pytest.approx(TransRate()(good, y), rel=1e-9)


@pytest.mark.parametrize("n,d", [(30, 80), (90, 12)], ids=["N<D", "N>D"])
def test_hscores_match_their_dxd_definitions(n, d):
    rng = np.random.default_rng(10)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, d)) + y[:, None]
    centred = X - X.mean(axis=0)
    means = np.stack([centred[y == c].mean(axis=0) for c in range(3)])[y]
    between = means.T @ means / n
    cov = centred.T @ centred / n
    plain = np.trace(np.linalg.pinv(cov) @ between)
    if n <= d:  # the plain H-score saturates at C-1 for every feature set: refused, not reported
        assert plain == pytest.approx(2.0, rel=1e-6)
        with pytest.raises(ValueError, match="degenerate.*shrinkage_hscore"):
            HScore()(X, y)
    else:
        assert HScore()(X, y) == pytest.approx(plain, rel=1e-6)
    estimator = LedoitWolf().fit(X)
    assert ledoit_wolf_shrinkage(centred)[0] == pytest.approx(estimator.shrinkage_, rel=1e-9)
    expected = np.trace(np.linalg.solve(estimator.covariance_, (1 - estimator.shrinkage_) * between))
    assert ShrinkageHScore()(X, y) == pytest.approx(expected, rel=1e-6)


def test_a_scorer_failing_on_every_candidate_says_so_once_and_leaves_the_tables():
    from codereuse.selection.candidates import Candidate
    from codereuse.selection.features import CandidateFeatures
    from codereuse.selection.ranking import score_pool

    rng = np.random.default_rng(3)
    y = np.arange(40) % 2
    names = ["a", "b", "c"]
    candidates = [Candidate(name, "pretrained", {}) for name in names]
    features = {name: CandidateFeatures({1: rng.normal(size=(40, 64))}, 1, 10, 0.0) for name in names}  # N < D
    lines = []
    scored = score_pool(candidates, features, y, {"hscore": HScore(), "logme": LogME()}, say=lines.append)
    assert len(lines) == 1 and lines[0].startswith("scorer hscore failed on every candidate: H-score is degenerate")
    assert "hscore" not in scored.scores and set(scored.scores["logme"]) == set(names)
    assert len(scored.failed) == 3  # still one record per candidate


def test_scorer_configs_carry_the_papers_settings():
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from conftest import ROOT

    conf = ROOT / "conf" / "scorer"
    nleep = instantiate(OmegaConf.load(conf / "nleep.yaml").nleep)
    assert (nleep.components_per_class, nleep.variance) == (5, 0.8)  # Li et al. 2021: 5 per class, 80% variance
    assert instantiate(OmegaConf.load(conf / "transrate.yaml").transrate).eps == pytest.approx(1e-4)  # authors' code
    assert instantiate(OmegaConf.load(conf / "parc.yaml").parc).dims == 32
