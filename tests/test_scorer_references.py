"""Known answers for PARC, TransRate, GBC and N-LEEP: each value is worked out here step by step from
the paper's (or the authors' code's) formula with numpy / scipy / scikit-learn, never by calling the
project's scorer, and compared with what the scorer returns."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from codereuse.selection.scorers import GBC, NLEEP, PARC, TransRate


def pca_scores(X: np.ndarray, k: int) -> np.ndarray:
    """Top-k principal-component scores by an SVD of the centred features, with scikit-learn's sign
    convention (each component's largest |loading| positive)."""
    centred = X - X.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    return (u * s * signs)[:, :k]


# --- PARC ---------------------------------------------------------------------------------------
def parc_by_hand(features: np.ndarray, y: np.ndarray) -> float:
    """Bolya et al. 2021: standardise, pairwise 1 - Pearson between examples, the same for one-hot
    labels, Spearman of the two upper triangles, x100."""
    standardised = (features - features.mean(axis=0)) / features.std(axis=0)
    n = len(y)
    one_hot = np.eye(y.max() + 1)[y]
    feature_rdm = np.array([[1 - np.corrcoef(standardised[i], standardised[j])[0, 1] for j in range(n)]
                            for i in range(n)])
    label_rdm = np.array([[1 - np.corrcoef(one_hot[i], one_hot[j])[0, 1] for j in range(n)] for i in range(n)])
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    return spearmanr([feature_rdm[p] for p in pairs], [label_rdm[p] for p in pairs]).statistic * 100


def test_parc_known_answer():
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    X = rng.normal(size=(3, 4))[y] * 2 + rng.normal(size=(9, 4)) * np.array([5.0, 1.0, 0.5, 0.2])
    expected = parc_by_hand(pca_scores(X, 3), y)
    assert PARC(dims=3)(X, y) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # the reference recipe through scikit-learn's own PCA and StandardScaler gives the same
    recipe = StandardScaler().fit_transform(PCA(n_components=3, svd_solver="full").fit_transform(X))
    assert parc_by_hand(recipe, y) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert PARC(dims=None)(X, y) == pytest.approx(parc_by_hand(X, y), rel=1e-9, abs=1e-9)  # no PCA


def anisotropic(seed: int = 2):
    """Three classes told apart by four quiet features, beside four loud label-free ones."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], 20)
    informative = rng.normal(size=(3, 4))[y] + 0.5 * rng.normal(size=(60, 4))
    loud = rng.normal(size=(60, 4)) * np.array([30.0, 20.0, 10.0, 5.0])
    return np.concatenate([loud, informative], axis=1), y


def test_parc_standardises_the_components_so_the_loud_ones_do_not_dominate():
    X, y = anisotropic()
    scores = pca_scores(X, 8)
    standardised = parc_by_hand(scores, y)  # the reference's recipe
    # without the standardisation (PCA scores straight into the correlations) the loud components decide
    upper = np.triu_indices(len(y), k=1)
    raw = spearmanr(1 - np.corrcoef(scores)[upper], 1 - np.corrcoef(np.eye(3)[y])[upper]).statistic * 100
    assert standardised == pytest.approx(33.48, abs=0.01) and abs(raw) < 2
    assert PARC(dims=32)(X, y) == pytest.approx(standardised, rel=1e-9)


def test_parc_takes_one_path_whatever_the_feature_width():
    """8 features with dims=32 go through PCA like 40 do: zero columns beside them change nothing."""
    X, y = anisotropic()
    wide = np.concatenate([X, np.zeros((len(y), 32))], axis=1)
    assert PARC(dims=32)(wide, y) == pytest.approx(PARC(dims=32)(X, y), rel=1e-9)
    assert PARC(dims=4)(wide, y) == pytest.approx(PARC(dims=4)(X, y), rel=1e-9)


# --- TransRate ------------------------------------------------------------------------------------
def transrate_by_hand(X: np.ndarray, y: np.ndarray, eps: float) -> float:
    """Huang et al. 2022, the authors' code: Z centred, R(Z) = 1/2 logdet(I_d + Z^T Z / (n eps)), each
    class's rows coded with its own n_c, TrR = R(Z) - (1/K) sum_c R(Z_c). Z is first scaled to a
    root-mean-square row norm of 1 (the scorer's documented deviation)."""
    Z = X - X.mean(axis=0)
    Z = Z / np.sqrt(np.mean(np.sum(Z ** 2, axis=1)))
    n, d = Z.shape
    whole = 0.5 * np.linalg.slogdet(np.eye(d) + Z.T @ Z / (n * eps))[1]
    classes = np.unique(y)
    per_class = []
    for c in classes:
        Zc = Z[y == c]
        per_class.append(0.5 * np.linalg.slogdet(np.eye(d) + Zc.T @ Zc / (len(Zc) * eps))[1])
    return whole - sum(per_class) / len(classes)


@pytest.mark.parametrize("n,d", [(9, 3), (6, 10)], ids=["N>D", "N<D"])
def test_transrate_known_answer(n, d):
    rng = np.random.default_rng(1)
    y = np.arange(n) % 3
    X = rng.normal(size=(3, d))[y] + rng.normal(size=(n, d)) * 0.7
    for eps in (1e-4, 1e-2):
        assert TransRate(eps=eps)(X, y) == pytest.approx(transrate_by_hand(X, y, eps), rel=1e-9)
    assert TransRate()(X, y) == pytest.approx(transrate_by_hand(X, y, 1e-4), rel=1e-9)  # the authors' eps


def test_transrate_weighs_the_classes_equally():
    """1/K, not n_c / n: with unbalanced classes the two differ, and the scorer follows the code."""
    rng = np.random.default_rng(2)
    y = np.array([0] * 8 + [1] * 3)
    X = rng.normal(size=(11, 2)) + 3 * y[:, None]
    assert TransRate()(X, y) == pytest.approx(transrate_by_hand(X, y, 1e-4), rel=1e-9)


# --- GBC ------------------------------------------------------------------------------------------
def gbc_by_hand(features: np.ndarray, y: np.ndarray) -> float:
    """Pandy et al. 2022: per-class diagonal Gaussians (mean, population variance); Bhattacharyya
    distance D_B = 1/8 sum (mu_i - mu_j)^2 / s + 1/2 ln(det S / sqrt(det S_i det S_j)), S the mean of
    the two covariances; GBC = - sum over ordered pairs i != j of exp(-D_B)."""
    classes = np.unique(y)
    stats = {c: (features[y == c].mean(axis=0), features[y == c].var(axis=0)) for c in classes}
    total = 0.0
    for i in classes:
        for j in classes:
            if i == j:
                continue
            (mi, vi), (mj, vj) = stats[i], stats[j]
            v = (vi + vj) / 2
            distance = np.sum((mi - mj) ** 2 / v) / 8 + 0.5 * np.log(np.prod(v) / np.sqrt(np.prod(vi) * np.prod(vj)))
            total += np.exp(-distance)
    return -total


def test_gbc_known_answer():
    X = np.array([[0.0, 0.0], [1.0, 0.5], [0.5, 1.0], [0.2, 0.4],  # class 0
                  [1.5, 1.0], [2.5, 1.5], [2.0, 0.5], [1.8, 1.2],  # class 1
                  [0.5, 2.0], [1.0, 3.0], [0.0, 2.5], [0.6, 2.2]])  # class 2
    y = np.repeat([0, 1, 2], 4)
    assert GBC(dims=None)(X, y) == pytest.approx(gbc_by_hand(X, y), rel=1e-6)
    # with PCA: three features, the top two components (per-class variances are sign-blind)
    third = X @ np.array([0.3, -0.2]) + 0.1 * np.random.default_rng(5).normal(size=12)
    lifted = np.concatenate([X, third[:, None]], axis=1)
    assert GBC(dims=2)(lifted, y) == pytest.approx(gbc_by_hand(pca_scores(lifted, 2), y), rel=1e-6)


# --- N-LEEP -----------------------------------------------------------------------------------------
def leep_by_hand(posterior: np.ndarray, y: np.ndarray) -> float:
    """Nguyen et al. 2020's LEEP with the mixture's posteriors P(z | x) as the 'source' predictions:
    P(y, z) = mean_i [y_i = y] P(z | x_i), P(y | z) = P(y, z) / P(z), score = mean_i log sum_z P(y_i | z) P(z | x_i)."""
    n = len(y)
    joint = np.zeros((y.max() + 1, posterior.shape[1]))
    for i in range(n):
        joint[y[i]] += posterior[i] / n
    conditional = joint / joint.sum(axis=0, keepdims=True)
    return float(np.mean([np.log(np.sum(conditional[y[i]] * posterior[i])) for i in range(n)]))


def test_nleep_known_answer_on_clusters_that_mix_the_labels():
    """Four tight, far-apart clusters and 2 components per class: the mixture finds the clusters,
    each posterior is one-hot, and N-LEEP is -H(Y | cluster) of the clusters' label mixes."""
    mixes = [(4, 0), (3, 1), (1, 3), (2, 2)]  # (class 0, class 1) in each cluster
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    rng = np.random.default_rng(3)
    X = np.concatenate([centres[k] + 0.01 * rng.normal(size=(sum(m), 2)) for k, m in enumerate(mixes)])
    y = np.concatenate([[0] * a + [1] * b for a, b in mixes])
    n = len(y)
    expected = sum(count * np.log(count / sum(mix)) for mix in mixes for count in mix if count) / n
    assert NLEEP(components_per_class=2)(X, y) == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx((3 * np.log(0.75) + np.log(0.25)) * 2 / 16 + 4 * np.log(0.5) / 16)


def test_nleep_known_answer_with_the_papers_five_components_per_class():
    """PCA keeping 80% of the variance, then a 5 x C component mixture (diagonal here, as configured),
    then LEEP: the same steps through scikit-learn."""
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1, 2], 20)
    X = rng.normal(size=(3, 5))[y] * 1.5 + rng.normal(size=(60, 5)) * np.array([2.0, 1.5, 1.0, 0.5, 0.3])
    reduced = PCA(n_components=0.8, svd_solver="full").fit_transform(X)
    mixture = GaussianMixture(n_components=15, covariance_type="diag", reg_covar=1e-4, random_state=0).fit(reduced)
    expected = leep_by_hand(mixture.predict_proba(reduced), y)
    assert NLEEP()(X, y) == pytest.approx(expected, rel=1e-6)
    assert NLEEP().components_per_class == 5
