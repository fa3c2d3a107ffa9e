"""Transferability metrics: a score of frozen features ``X`` (N, D) for labels ``y`` (N,), higher
= expected to transfer better. No maintained package implements these (checked the package lists),
so each is written from its paper and tested on a case with a known answer (PARC, TransRate, GBC
and N-LEEP against values worked out step by step in tests/test_scorer_references.py).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sklearn.mixture import GaussianMixture


def _one_hot(y: np.ndarray) -> np.ndarray:
    classes = np.unique(y)
    return (y[:, None] == classes[None, :]).astype(np.float64)


def _reduce(X: np.ndarray, dims: int | None = None, variance: float | None = None) -> np.ndarray:
    """The centred features (neither ``dims`` nor ``variance``), or their principal-component
    scores: the top ``dims`` components (all of them when there are fewer), or as many as keep
    ``variance`` of the total. One path whatever the width D: features narrower than ``dims`` are
    rotated onto their principal axes like wider ones, not passed through raw, so a score does not
    change character when D crosses ``dims``. Signs as scikit-learn's PCA (each component's largest
    |loading| positive): PARC depends on them. PCA through the Gram matrix: sklearn's SVD is far
    slower at N << D."""
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    if dims is None and variance is None:
        return X
    sigma, u = column_spectrum(X)
    order = np.argsort(sigma)[::-1]
    sigma, u = sigma[order], u[:, order]
    if variance is not None:
        dims = int(np.searchsorted(np.cumsum(sigma) / sigma.sum(), variance) + 1)
    keep = min(dims, sigma.size)
    sigma, u = sigma[:keep], u[:, :keep]
    loadings = X.T @ u  # (D, k): each component's loadings times its singular value
    signs = np.sign(loadings[np.argmax(np.abs(loadings), axis=0), np.arange(keep)])
    return u * np.sqrt(sigma) * np.where(signs == 0, 1.0, signs)


def _standardise(X: np.ndarray) -> np.ndarray:
    """Each column to zero mean and unit variance (scikit-learn's StandardScaler: a constant column
    is centred, not scaled)."""
    scale = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(scale < 10 * np.finfo(np.float64).eps, 1.0, scale)


def column_spectrum(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-zero squared singular values s^2 of X and the matching left singular vectors U (N, k),
    from the eigendecomposition of the smaller Gram matrix: O(min(N, D)^2 max(N, D)), and several
    times faster than an SVD when N << D (the usual probe regime)."""
    n, d = X.shape
    if n <= d:
        sigma, u = np.linalg.eigh(X @ X.T)
    else:
        sigma, v = np.linalg.eigh(X.T @ X)
        u = X @ v
    keep = sigma > max(sigma.max(initial=0.0), 0.0) * 1e-12 * max(n, d)
    sigma, u = sigma[keep], u[:, keep]
    if n > d:
        u = u / np.sqrt(sigma)
    return sigma, u


# --- LogME (You et al., 2021) --------------------------------------------------------------------
def logme_evidence(X: np.ndarray, t: np.ndarray, alpha: float, beta: float) -> float:
    """Exact log evidence log p(t | X, alpha, beta) of Bayesian linear regression t = X w + noise,
    w ~ N(0, I / alpha), noise ~ N(0, 1 / beta), via the SVD of X.

    log |A| with A = alpha I_D + beta X^T X is sum_i log(alpha + beta s_i^2) over the k non-zero
    singular values plus (D - k) log alpha for the rest: the term the widely copied fixed-point
    code drops when N < D.
    """
    n, d = X.shape
    sigma, u = column_spectrum(X)
    k = sigma.size
    projected = u.T @ t  # coordinates of t in X's column space
    shrink = beta * sigma / (alpha + beta * sigma)
    m_norm2 = np.sum(beta ** 2 * sigma * projected ** 2 / (alpha + beta * sigma) ** 2)
    residual2 = np.sum(((1 - shrink) * projected) ** 2) + (t @ t - projected @ projected)
    log_det_a = np.sum(np.log(alpha + beta * sigma)) + (d - k) * np.log(alpha)
    return float(n / 2 * np.log(beta) + d / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
                 - beta / 2 * residual2 - alpha / 2 * m_norm2 - log_det_a / 2)


def logme_fit(X: np.ndarray, t: np.ndarray, iterations: int = 1000, tol: float = 1e-7) -> tuple[float, float]:
    """MacKay's fixed point for (alpha, beta) maximising the evidence (gamma counts all D
    directions, so it is the stationary point of the exact evidence; it converges slowly, towards
    alpha -> inf, when the features explain nothing: hence the generous iteration cap)."""
    n = X.shape[0]
    sigma, u = column_spectrum(X)
    projected = u.T @ t
    outside = max(float(t @ t - projected @ projected), 0.0)
    alpha, beta = 1.0, 1.0
    for _ in range(iterations):
        gamma = np.sum(beta * sigma / (alpha + beta * sigma))
        m_norm2 = np.sum(beta ** 2 * sigma * projected ** 2 / (alpha + beta * sigma) ** 2)
        residual2 = np.sum((alpha / (alpha + beta * sigma) * projected) ** 2) + outside
        new_alpha = gamma / max(m_norm2, 1e-12)
        new_beta = max(n - gamma, 1e-12) / max(residual2, 1e-12)
        done = abs(new_alpha - alpha) / alpha < tol and abs(new_beta - beta) / beta < tol
        alpha, beta = new_alpha, new_beta
        if done:
            break
    return float(alpha), float(beta)


class LogME:
    """Mean over classes (one-vs-rest targets) of the maximised log evidence per example."""

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        X = np.asarray(X, dtype=np.float64)
        targets = _one_hot(y)
        return float(np.mean([logme_evidence(X, t, *logme_fit(X, t)) / X.shape[0] for t in targets.T]))


# --- H-score (Bao et al., 2019) and its shrinkage variant (Ibrahim et al., 2022) -----------------
def _class_means(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row replaced by its class mean (of the centred features), (N, D)."""
    means = np.zeros_like(X)
    for c in np.unique(y):
        means[y == c] = X[y == c].mean(axis=0)
    return means


def _explained(X: np.ndarray, y: np.ndarray, shrink: float, target: float,
               spectrum: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """tr(S^-1 B) for the covariance S = (1 - shrink) X^T X / N + shrink * target * I (pseudo-
    inverse when shrink = 0) and the between-class covariance B = M^T M / N, both of centred X.
    B lives in X's row space, so the trace is a sum over X's spectrum (no D x D matrix);
    ``spectrum`` is ``column_spectrum(X)`` when the caller has it already."""
    n = X.shape[0]
    sigma, u = spectrum or column_spectrum(X)  # X = U diag(s) V^T: V = X^T U / s
    between = _class_means(X, y)
    along = (between @ X.T @ u) / np.sqrt(sigma)  # M V, (N, k)
    variance = (1 - shrink) * sigma / n + shrink * target
    return float(np.sum(along ** 2, axis=0) @ (1 / variance) / n)


class HScore:
    """tr(cov(X)^+ cov(E[X | y])): how much of the feature variance the classes explain."""

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        X = np.asarray(X, dtype=np.float64)
        X = X - X.mean(axis=0)
        spectrum = column_spectrum(X)
        rank = len(spectrum[0])
        if rank >= X.shape[0] - 1:  # the centred features span every centred label vector
            raise ValueError(f"H-score is degenerate here: the probe sample (N={X.shape[0]}) does not exceed the "
                             f"feature rank ({rank}), so every candidate scores C-1 = {len(np.unique(y)) - 1}; "
                             "use shrinkage_hscore or a larger probe sample")
        return _explained(X, y, 0.0, 0.0, spectrum)


def ledoit_wolf_shrinkage(X: np.ndarray) -> tuple[float, float]:
    """scikit-learn's Ledoit-Wolf shrinkage of centred ``X`` and its target mu = tr(S) / D, through
    the N x N Gram matrix (sklearn forms D x D products); equal to sklearn's, tested."""
    n, d = X.shape
    gram = X @ X.T
    norms2 = np.diag(gram)
    mu = norms2.sum() / n / d
    delta_ = np.sum(gram ** 2) / n ** 2
    beta = (np.sum(norms2 ** 2) / n - delta_) / (d * n)
    delta = (delta_ - 2 * mu * norms2.sum() / n + d * mu ** 2) / d
    beta = min(beta, delta)
    return (0.0 if beta == 0 else float(beta / delta)), float(mu)


class ShrinkageHScore:
    """H-score with the Ledoit-Wolf shrunk covariance, well conditioned when N < D."""

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        X = np.asarray(X, dtype=np.float64)
        X = X - X.mean(axis=0)
        shrink, mu = ledoit_wolf_shrinkage(X)
        return (1 - shrink) * _explained(X, y, shrink, mu)


# --- PARC (Bolya et al., 2021) --------------------------------------------------------------------
class PARC:
    """Spearman correlation of the examples' pairwise dissimilarities (1 - Pearson) in feature
    space and in label space, x100, as the reference code computes it (Bolya et al. 2021,
    github.com/dbolya/parc): features PCA-reduced to ``dims`` components (every component when
    fewer; ``dims: null`` keeps the raw features), then each component standardised (StandardScaler)
    so that the top components do not dominate the correlations. The reference's randomised PCA
    is exact here, and components past the features' rank are dropped where the reference would
    standardise their rounding noise up to unit variance."""

    def __init__(self, dims: int | None = 32) -> None:
        self.dims = dims

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        features = _standardise(_reduce(X, self.dims))
        upper = np.triu_indices(features.shape[0], k=1)
        feature_dist = 1 - np.corrcoef(features)[upper]
        label_dist = 1 - np.corrcoef(_one_hot(y))[upper]
        return float(spearmanr(feature_dist, label_dist).statistic * 100)


# --- GBC (Pandy et al., 2022) ---------------------------------------------------------------------
class GBC:
    """Minus the summed Bhattacharyya coefficients between per-class diagonal Gaussians (over
    ordered pairs of classes, as Pandy et al. 2022 sum them) of the features' top ``dims``
    principal components: 0 when the classes do not overlap, more negative the more they do."""

    def __init__(self, dims: int | None = 64) -> None:
        self.dims = dims

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        features = _reduce(X, self.dims)
        stats = []
        for c in np.unique(y):
            members = features[y == c]
            stats.append((members.mean(axis=0), members.var(axis=0) + 1e-9))
        total = 0.0
        for i, (mean_i, var_i) in enumerate(stats):
            for j, (mean_j, var_j) in enumerate(stats):
                if i == j:
                    continue
                var = (var_i + var_j) / 2
                distance = (np.sum((mean_i - mean_j) ** 2 / var) / 8
                            + (np.sum(np.log(var)) - (np.sum(np.log(var_i)) + np.sum(np.log(var_j))) / 2) / 2)
                total += np.exp(-distance)
        return float(-total)


# --- N-LEEP (Li et al., 2021) ---------------------------------------------------------------------
class NLEEP:
    """LEEP with a Gaussian mixture's soft clusters in place of source-class probabilities: mean
    log P(y_i | x_i) = mean log sum_z P(y_i | z) P(z | x_i), P(y | z) from the joint over the probe.

    As in the paper (Li et al. 2021, "Ranking Neural Checkpoints"): PCA keeping ``variance`` (80%)
    of the feature variance, then a mixture of ``components_per_class`` (5) x C Gaussians, capped
    at the number of examples. ``covariance``: each component's covariance, ``diag`` by default
    where the paper's reference code (scikit-learn's default) has ``full``: a probe of a few
    hundred examples gives each of the 5 x C components a few dozen points, too few for a full
    covariance of the tens of retained components (``covariance: full`` for the paper's)."""

    def __init__(self, components_per_class: int = 5, variance: float = 0.8, covariance: str = "diag",
                 seed: int = 0) -> None:
        self.components_per_class, self.variance, self.covariance, self.seed = (components_per_class, variance,
                                                                                covariance, seed)

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        X = np.asarray(X, dtype=np.float64)
        features = _reduce(X, variance=self.variance)
        classes = np.unique(y)
        components = min(self.components_per_class * len(classes), X.shape[0])
        mixture = GaussianMixture(n_components=components, covariance_type=self.covariance,
                                  random_state=self.seed, reg_covar=1e-4).fit(features)
        posterior = mixture.predict_proba(features)  # (N, Z)
        labels = _one_hot(y)  # (N, C)
        joint = labels.T @ posterior / X.shape[0]  # P(y, z)
        conditional = joint / np.maximum(joint.sum(axis=0, keepdims=True), 1e-12)  # P(y | z)
        likelihood = np.sum(posterior * (labels @ conditional), axis=1)  # sum_z P(y_i | z) P(z | x_i)
        return float(np.mean(np.log(np.maximum(likelihood, 1e-12))))


# --- TransRate (Huang et al., 2022) ---------------------------------------------------------------
def coding_rate(Z: np.ndarray, eps: float) -> float:
    """R(Z, eps) = 1/2 logdet(I_d + Z^T Z / (n eps)) of n rows Z, as the authors' code computes it
    (Huang et al. 2022, appendix; its eps stands for the paper's eps^2 / d in d / (n eps^2)),
    through the smaller of the two Gram matrices."""
    n, d = Z.shape
    gram = Z @ Z.T if n < d else Z.T @ Z
    return float(np.linalg.slogdet(np.eye(gram.shape[0]) + gram / (n * eps))[1] / 2)


class TransRate:
    """Rate reduction R(Z, eps) - (1/K) sum_c R(Z_c, eps) of the centred features Z over the K
    classes, Z_c the rows of class c (centred with the rest, each coded with its own n_c), with the
    authors' code's eps = 1e-4 and 1/K class weights (n_c / n, which their eigenvalue scripts use,
    is the same on a class-balanced probe sample). One deviation: Z is first divided by its
    root-mean-square row norm, so that tr(Z^T Z) / n = 1 (the energy of the unit-norm rows of the
    authors' repository) and a model whose features are merely larger does not score higher:
    features scaled by s add about rank(Z) log s to R(Z) but only rank(Z_c) log s to each R(Z_c)."""

    def __init__(self, eps: float = 1e-4, dims: int | None = None) -> None:
        self.eps, self.dims = eps, dims

    def __call__(self, X: np.ndarray, y: np.ndarray) -> float:
        Z = _reduce(X, self.dims)
        Z = Z / max(np.sqrt(np.mean(np.sum(Z ** 2, axis=1))), 1e-12)
        within = np.mean([coding_rate(Z[y == c], self.eps) for c in np.unique(y)])
        return coding_rate(Z, self.eps) - float(within)
