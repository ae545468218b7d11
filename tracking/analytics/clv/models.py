"""BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma (Fader & Hardie 2013), fitted by maximum
likelihood with scipy.

Why not a CLV library: `lifetimes` implements exactly these two models and fits the published CDNOW
figures, but it is archived (last release 2020), pins old autograd/pandas behaviour, and its
transaction-summary helper already breaks on pandas 3. `pymc-marketing` is its maintained successor,
but it brings PyMC, PyTensor (a C compiler at run time) and ArviZ — hundreds of megabytes and minutes
of compilation — for a point estimate we can get from the closed-form likelihoods in ~40 lines on
scipy (already a dependency, well kept). The likelihoods below are the papers' equations; the CDNOW
test recovers the published parameters, which is what keeps them honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float


def _bgnbd_loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> float:
    r, alpha, a, b = np.exp(params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return float(np.sum(w * (a1 + a2 + np.logaddexp(a3, a4))))


def bgnbd_fit(*, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None) -> BgNbd:
    """Maximum-likelihood BG/NBD from per-customer frequency x, recency t_x and age T (same time unit)."""
    w = np.ones_like(x, dtype=float) if weights is None else weights
    best = None
    for start in (np.log([0.5, 1.0, 0.5, 1.0]), np.log([1.0, float(np.mean(T)) or 1.0, 1.0, 1.0])):
        result = optimize.minimize(
            lambda p: -_bgnbd_loglik(p, x, t_x, T, w) / w.sum(), start, method="Nelder-Mead",
            options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 20000, "maxfev": 40000},
        )  # fmt: skip
        if best is None or result.fun < best.fun:
            best = result
    r, alpha, a, b = np.exp(best.x)
    return BgNbd(float(r), float(alpha), float(a), float(b))


def bgnbd_probability_alive(m: BgNbd, *, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(
            x > 0,
            (m.a / (m.b + x - 1)) * np.exp((m.r + x) * (np.log(m.alpha + T) - np.log(m.alpha + t_x))),
            0.0,
        )
    return 1.0 / (1.0 + ratio)


def bgnbd_expected_purchases(
    m: BgNbd, *, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10)."""
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    first = (
        (a + b + x - 1) / (a - 1) * (1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp)
    )
    return first * bgnbd_probability_alive(m, x=x, t_x=t_x, T=T)


def _gg_loglik(params: np.ndarray, x: np.ndarray, mx: np.ndarray) -> float:
    p, q, g = np.exp(params)
    ll = (
        special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(g)
        + (p * x - 1) * np.log(mx) + (p * x) * np.log(x) - (p * x + q) * np.log(g + mx * x)
    )  # fmt: skip
    return float(np.sum(ll))


def gamma_gamma_fit(*, x: np.ndarray, monetary: np.ndarray) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma from repeat customers' frequency and mean repeat order value."""
    keep = (x > 0) & (monetary > 0)
    x, mx = x[keep].astype(float), monetary[keep].astype(float)
    result = optimize.minimize(
        lambda p: -_gg_loglik(p, x, mx) / len(x), np.log([1.0, 1.0, float(np.mean(mx))]), method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 20000, "maxfev": 40000},
    )  # fmt: skip
    p, q, g = np.exp(result.x)
    return GammaGamma(float(p), float(q), float(g))


def gamma_gamma_expected_value(m: GammaGamma, *, x: np.ndarray, monetary: np.ndarray) -> np.ndarray:
    """E[M | x, m_x]: the population mean for a customer with no repeat order, shrunk towards theirs."""
    population = m.p * m.gamma / (m.q - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = (m.q - 1) / (m.p * x + m.q - 1)
        return np.where(x > 0, weight * population + (1 - weight) * monetary, population)
