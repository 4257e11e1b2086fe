"""Kernel-density numerics of the KDE generator: exact Gaussian log-densities, PCA, cross-validated bandwidths.

:func:`log_kde` computes log-densities exactly (no tree approximation): a
brute-force log-sum-exp over all kernel centres, with squared distances from
float32 matrix products shared by every bandwidth asked for.
:func:`fit_pca` gives scikit-learn's principal axes from a float64
covariance. :func:`choose_bandwidth` picks a bandwidth by cross-validated
log-likelihood over a grid, then refines it between the best value's
neighbours.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Rounds refining the best grid bandwidth between its neighbours ...
REFINE_ROUNDS = 2
#: ... on a finer geometric grid of this many values each.
REFINE_POINTS = 7


def log_kde(queries: np.ndarray, codes: np.ndarray, bandwidths: Sequence[float], *, chunk_bytes: int = 1 << 25) -> np.ndarray:
    """Exact log-density of a Gaussian kernel density at each query, for several bandwidths.

    ``log p(x) = logsumexp_j(-|x - y_j|^2 / (2 h^2)) - log n - (d / 2) log(2 pi h^2)``.
    Squared distances come from one float32 matrix product per chunk of
    queries (``[x, |x|^2, 1] . [-2y, 1, |y|^2]``), shared by every bandwidth;
    the log-sum-exp is shifted by each query's nearest code, so it never
    underflows.

    Parameters
    ----------
    queries : float (m, d) points to score.
    codes : float (n, d) kernel centres, n >= 1.
    bandwidths : k kernel standard deviations, each > 0.
    chunk_bytes : memory for one chunk's distance matrix (float32).

    Returns
    -------
    float64 (m, k): log-density of each query under each bandwidth.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    codes = np.ascontiguousarray(codes, dtype=np.float32)
    bandwidths = np.asarray(bandwidths, dtype=np.float64).ravel()
    if queries.ndim != 2 or codes.ndim != 2 or queries.shape[1] != codes.shape[1]:
        raise ValueError(f"queries (m, d) and codes (n, d) must share d, got {queries.shape} and {codes.shape}.")
    if len(codes) == 0:
        raise ValueError("codes must hold at least one kernel centre.")
    if not np.all(bandwidths > 0):
        raise ValueError(f"bandwidths == {bandwidths.tolist()}, each must be > 0.")
    n, d = codes.shape
    gains = -0.5 / bandwidths**2
    constants = -math.log(n) - 0.5 * d * np.log(2 * np.pi * bandwidths**2)
    right = np.empty((d + 2, n), dtype=np.float32)
    right[:d] = -2 * codes.T
    right[d] = 1
    right[d + 1] = np.einsum("ij,ij->i", codes, codes)
    left = np.empty((len(queries), d + 2), dtype=np.float32)
    left[:, :d] = queries
    left[:, d] = np.einsum("ij,ij->i", queries, queries)
    left[:, d + 1] = 1
    out = np.empty((len(queries), len(bandwidths)), dtype=np.float64)
    step = max(1, chunk_bytes // (4 * n))
    for start in range(0, len(queries), step):
        dist = left[start : start + step] @ right
        nearest = dist.min(axis=1)
        dist -= nearest[:, None]
        nearest = np.maximum(nearest, 0).astype(np.float64)  # float32 rounding can dip below 0 at a code
        terms = np.empty_like(dist)
        for i, gain in enumerate(gains):
            np.multiply(dist, np.float32(gain), out=terms)
            np.exp(terms, out=terms)
            out[start : start + step, i] = gain * nearest + np.log(terms.sum(axis=1).astype(np.float64)) + constants[i]
    return out


@dataclass(frozen=True)
class Pca:
    """Principal components of pixel vectors (float64 covariance, eigendecomposition).

    Attributes
    ----------
    mean : float32 (784,) mean pixel vector.
    components : float32 (k, 784) unit principal axes, by decreasing variance;
        each axis's largest-magnitude loading is positive (a fixed sign).
    explained_variance : float64 (k,) variance along each axis.
    explained_variance_ratio : float64 (k,) fraction of the total variance.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray


def fit_pca(pixels: np.ndarray, n_components: int) -> Pca:
    """Fit PCA to ``pixels`` float (N, 784), N >= 2: the same axes and variances as scikit-learn's PCA.

    The covariance is accumulated in float64 and decomposed with
    ``numpy.linalg.eigh``: deterministic, and fast when N >> 784.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    mean = pixels.mean(axis=0)
    centred = pixels - mean
    covariance = centred.T @ centred / (len(pixels) - 1)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1][:n_components]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order].T
    signs = np.sign(vectors[np.arange(len(vectors)), np.abs(vectors).argmax(axis=1)])
    vectors *= np.where(signs == 0, 1, signs)[:, None]
    return Pca(mean.astype(np.float32), vectors.astype(np.float32), values, values / np.trace(covariance))


def choose_bandwidth(codes: np.ndarray, grid: np.ndarray, folds: int, rng: np.random.Generator) -> tuple[float, float, np.ndarray]:
    """Cross-validated bandwidth of a kernel density on ``codes`` float32 (n, k).

    Each of ``folds`` random folds is scored under the density of the
    others. The grid's best value is then refined between its two
    neighbours: twice, a finer geometric grid of ``REFINE_POINTS`` values
    around the best so far (the likelihood is smooth in the bandwidth, and
    the acceptance of rejection sampling is sensitive to it; every round
    shares one distance matrix per fold). A best value on the grid's edge
    is returned as is.

    Returns
    -------
    bandwidth : the chosen bandwidth.
    log_likelihood : its mean held-out-fold log-likelihood per code.
    curve : float64 (G,) the same for every grid value (``grid`` sorted ascending).
    """
    parts = np.array_split(rng.permutation(len(codes)), folds)

    def mean_log_likelihood(bandwidths: np.ndarray) -> np.ndarray:
        total = np.zeros(len(bandwidths))
        for fold in parts:
            train = np.ones(len(codes), dtype=bool)
            train[fold] = False
            total += log_kde(codes[fold], codes[train], bandwidths).sum(axis=0)
        return total / len(codes)

    curve = mean_log_likelihood(grid)
    best = int(np.argmax(curve))
    if best in (0, len(grid) - 1):
        return float(grid[best]), float(curve[best]), curve
    bandwidth, likelihood = float(grid[best]), float(curve[best])
    low, high = grid[best - 1], grid[best + 1]
    for _ in range(REFINE_ROUNDS):
        finer = np.geomspace(low, high, REFINE_POINTS + 2)[1:-1]
        scores = mean_log_likelihood(finer)
        step = (high / low) ** (1 / (REFINE_POINTS + 1))
        i = int(np.argmax(scores))
        if scores[i] > likelihood:
            bandwidth, likelihood = float(finer[i]), float(scores[i])
        low, high = bandwidth / step, bandwidth * step
    return bandwidth, likelihood, curve


class BandwidthEdgeWarning(UserWarning):
    """The cross-validated bandwidth is the smallest or largest value of the grid."""


class RejectionBudgetError(ValueError):
    """Rejection sampling ran out of candidates; the message states the acceptance rate reached."""


@dataclass(frozen=True)
class DigitDensity:
    """One fitted kernel density of the KDE generator and its rejection reference.

    Attributes
    ----------
    codes : float32 (n, k) kernel centres.
    bandwidth : the kernels' standard deviation, > 0.
    heldout : float64 (m,) sorted log-densities of held-out real digits (the rejection reference).
    name : what the density draws, for messages (``digit 3``, ``all digits``).
    """

    codes: np.ndarray
    bandwidth: float
    heldout: np.ndarray
    name: str

    def draw(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``count`` draws: a random kernel centre plus Gaussian noise.

        Returns the draws float32 (count, k) and, float64 (count,), the log of
        their own centre's term of the density, ``-log n - (k/2) log(2 pi h^2)
        - |noise|^2 / 2``: a lower bound of their log-density.
        """
        codes, h = self.codes, self.bandwidth
        centres = codes[rng.integers(0, len(codes), size=count)]
        noise = rng.standard_normal(centres.shape, dtype=np.float32)
        own = -math.log(len(codes)) - 0.5 * codes.shape[1] * math.log(2 * math.pi * h * h) - 0.5 * np.einsum("ij,ij->i", noise, noise, dtype=np.float64)
        return centres + np.float32(h) * noise, own

    def score(self, queries: np.ndarray) -> np.ndarray:
        """float64 (m,) log-density of float (m, k) ``queries``."""
        return log_kde(queries, self.codes, [self.bandwidth])[:, 0]

    def threshold(self, percentile: float) -> float:
        """The ``percentile``-th percentile of the held-out log-densities."""
        return float(np.percentile(self.heldout, percentile))

    def passes(self, candidates: np.ndarray, own: np.ndarray, threshold: float) -> np.ndarray:
        """bool (m,): log-density of each candidate >= ``threshold``.

        A candidate whose own kernel term (``own``, see :meth:`draw`) already
        reaches the threshold passes without scoring: in many dimensions the
        other kernels add little to a draw's density, so most candidates are
        decided this way and only the rest are scored exactly.
        """
        passed = own >= threshold
        undecided = np.flatnonzero(~passed)
        if len(undecided):
            passed[undecided] = self.score(candidates[undecided]) >= threshold
        return passed

    def acceptance(self, count: int, percentiles: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
        """Share of ``count`` fresh candidates at or above each percentile's threshold (one draw for all levels)."""
        scores = self.score(self.draw(count, rng)[0])
        return {name: np.mean(scores >= self.threshold(percentile)) for name, percentile in percentiles.items()}

    def sample(
        self, count: int, percentile: float | None, *, candidate_budget: float, batch_size: int, rng: np.random.Generator, rejection: object
    ) -> tuple[np.ndarray, int, int]:
        """Draw ``count`` codes at or above the ``percentile`` threshold (None: no rejection).

        Candidates are drawn in batches of at most ``batch_size``, sized from
        the acceptance so far, within a budget of ``candidate_budget`` x
        ``count`` candidates. ``rejection`` is the level asked for (named in the error).

        Returns
        -------
        The codes float32 (count, k), the candidates drawn and the candidates accepted.

        Raises
        ------
        RejectionBudgetError
            When the budget cannot yield ``count`` codes; states the acceptance reached.
        """
        if percentile is None:
            return self.draw(count, rng)[0], count, count
        threshold = self.threshold(percentile)
        budget = math.ceil(candidate_budget * count)
        kept: list[np.ndarray] = []
        drawn = accepted = 0
        while accepted < count:
            if budget - drawn < count - accepted:
                raise RejectionBudgetError(
                    f"rejection {rejection!r} ({self.name}: log-density >= {threshold:.1f}, the {percentile:g}th percentile "
                    f"of {len(self.heldout)} held-out real digits) accepted {accepted} of {drawn} candidates "
                    f"({accepted / max(drawn, 1):.2%}); the budget of {budget} candidates (candidate_budget == "
                    f"{candidate_budget:g} x {count} requested) cannot yield {count}. Lower the rejection level "
                    f"or raise candidate_budget."
                )
            need = count - accepted
            rate = accepted / drawn if drawn else 0.5
            size = min(batch_size, budget - drawn, math.ceil(1.2 * need / rate) if rate > 0 else budget)
            candidates, own = self.draw(size, rng)
            passed = candidates[self.passes(candidates, own, threshold)]
            kept.append(passed)
            drawn += size
            accepted += len(passed)
        return np.concatenate(kept)[:count], drawn, accepted


def fit_density(
    codes: np.ndarray, heldout_codes: np.ndarray, grid: np.ndarray, folds: int, rng: np.random.Generator, name: str
) -> tuple[DigitDensity, float, np.ndarray]:
    """A density on ``codes`` float32 (n, k) with its cross-validated bandwidth, scored on ``heldout_codes`` (m, k).

    ``name`` names the density in the :class:`BandwidthEdgeWarning` issued when
    the bandwidth is the first or last value of a ``grid`` of two or more.

    Returns
    -------
    The density (its ``heldout`` log-densities sorted), the bandwidth's mean
    cross-validated log-likelihood, and float64 (G,) that of every grid value
    (see :func:`choose_bandwidth`).
    """
    chosen, likelihood, curve = choose_bandwidth(codes, grid, folds, rng)
    if len(grid) > 1 and chosen in (grid[0], grid[-1]):
        side = "smallest" if chosen == grid[0] else "largest"
        warnings.warn(  # once: stages and the CLI route warnings into the log (digitgen.entry.configure_logging)
            f"{name}: the cross-validated bandwidth {chosen:g} is the {side} value of the grid "
            f"[{grid[0]:g} .. {grid[-1]:g}]; the optimum may lie outside it, extend bandwidths.",
            BandwidthEdgeWarning,
            stacklevel=4,
        )
    scores = np.sort(log_kde(heldout_codes, codes, [chosen])[:, 0])
    return DigitDensity(codes, chosen, scores, name), likelihood, curve
