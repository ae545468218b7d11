"""Confidence intervals and significance tests for rates (conversion, open, click).

- Wilson score interval for one rate (good for small counts and rates near 0 or 1).
- Newcombe's hybrid score interval (his method 10) for the difference of two rates (holdout uplift).
- Katz log interval for the ratio of two rates (relative uplift).
- Pearson chi-square test of independence across k variants, and pooled two-proportion z-tests
  between the best variant and each other one (Bonferroni-corrected) before anyone is called a winner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType


def _scipy_stats() -> ModuleType:
    # Imported on first use: scipy.stats takes 1-2 s to import, which every web and worker process
    # would pay at startup (the URLconf imports the report views) for pages few of them serve.
    from scipy import stats

    return stats


@lru_cache(maxsize=16)
def z_for(level: float) -> float:
    return float(_scipy_stats().norm.ppf(1 - (1 - level) / 2))


def wilson(x: int, n: int, *, level: float = 0.95) -> tuple[float, float] | None:
    if n <= 0:
        return None
    z = z_for(level)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(
    x1: int, n1: int, x2: int, n2: int, *, level: float = 0.95
) -> tuple[float, float] | None:
    """Interval for p1 - p2."""
    a, b = wilson(x1, n1, level=level), wilson(x2, n2, level=level)
    if a is None or b is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    lower = d - math.sqrt((p1 - a[0]) ** 2 + (b[1] - p2) ** 2)
    upper = d + math.sqrt((a[1] - p1) ** 2 + (p2 - b[0]) ** 2)
    return lower, upper


def ratio_interval(x1: int, n1: int, x2: int, n2: int, *, level: float = 0.95) -> tuple[float, float] | None:
    """Interval for p1 / p2 - 1 (relative uplift), Katz's log method; None when a count is 0."""
    if min(x1, x2) <= 0 or min(n1, n2) <= 0:
        return None
    rr = (x1 / n1) / (x2 / n2)
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    z = z_for(level)
    return math.exp(math.log(rr) - z * se) - 1, math.exp(math.log(rr) + z * se) - 1


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """Pooled two-proportion z-test: (z, two-sided p)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, float(2 * _scipy_stats().norm.sf(abs(z)))


def chi_square(rows: list[tuple[int, int]]) -> tuple[float, float, int] | None:
    """Pearson chi-square (no continuity correction) over (successes, trials) per variant:
    (statistic, p, degrees of freedom); None when it cannot be computed."""
    table = [[x, n - x] for x, n in rows if n > 0]
    if len(table) < 2 or sum(r[0] for r in table) == 0 or sum(r[1] for r in table) == 0:
        return None
    stat, p, dof, _ = _scipy_stats().chi2_contingency(table, correction=False)
    return float(stat), float(p), int(dof)


@dataclass
class VariantRate:
    variant: str
    successes: int
    trials: int
    rate: float | None
    interval: tuple[float, float] | None


@dataclass
class Verdict:
    metric: str
    level: float
    variants: list[VariantRate]
    p_value: float | None
    statistic: float | None
    winner: str | None
    sentence: str

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "level": self.level,
            "p_value": self.p_value,
            "chi_square": self.statistic,
            "winner": self.winner,
            "sentence": self.sentence,
            "variants": [
                {
                    "variant": v.variant,
                    "successes": v.successes,
                    "trials": v.trials,
                    "rate": v.rate,
                    "ci_low": v.interval[0] if v.interval else None,
                    "ci_high": v.interval[1] if v.interval else None,
                }
                for v in self.variants
            ],
        }


def _p(p: float) -> str:
    # Below the smallest double p reads 0.0; "p = 0" would claim certainty the test cannot give.
    return f"{p:.3g}" if p > 0 else "< 1e-300"


def _p_is(p: float) -> str:
    return f"= {p:.3g}" if p > 0 else "< 1e-300"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


def ab_verdict(rows: list[tuple[str, int, int]], *, metric: str, level: float = 0.95) -> Verdict:
    """rows: (variant, successes, trials). A winner only when the variants differ overall (chi-square)
    and the best beats every other one pairwise, each at the chosen level after Bonferroni."""
    variants = [VariantRate(v, x, n, x / n if n else None, wilson(x, n, level=level)) for v, x, n in rows]
    alpha = 1 - level
    label = metric.replace("_", " ")
    named = [v for v in variants if v.trials > 0]
    if len(named) < 2:
        return Verdict(metric, level, variants, None, None, None,
                       f"Nothing to compare on {label}: fewer than two variants have recipients.")  # fmt: skip
    test = chi_square([(v.successes, v.trials) for v in named])
    if test is None:
        return Verdict(metric, level, variants, None, None, None,
                       f"No winner on {label}: every variant has the same result so far.")  # fmt: skip
    stat, p, _ = test
    best = max(named, key=lambda v: (v.rate or 0.0, -v.trials))
    others = [v for v in named if v is not best]
    listing = ", ".join(f"{v.variant} {_pct(v.rate)}" for v in sorted(named, key=lambda v: -(v.rate or 0)))
    if p >= alpha:
        return Verdict(metric, level, variants, p, stat, None,
                       f"No winner yet on {label} ({listing}): a difference this size could be chance "
                       f"(p {_p_is(p)}; {int(level * 100)}% confidence needs p < {alpha:.3g}).")  # fmt: skip
    pairwise = [two_proportion_z(best.successes, best.trials, o.successes, o.trials) for o in others]
    corrected = alpha / len(others)
    if all(t is not None and t[1] < corrected and t[0] > 0 for t in pairwise):
        worst_p = max(t[1] for t in pairwise if t is not None)
        runner = max(others, key=lambda v: v.rate or 0.0)
        return Verdict(metric, level, variants, p, stat, best.variant,
                       f"Variant {best.variant} wins on {label}: {_pct(best.rate)} against {_pct(runner.rate)} "
                       f"for {runner.variant}, the next best (significant at {int(level * 100)}%: "
                       f"p {_p_is(p)} overall, {_p(worst_p)} against each other variant).")  # fmt: skip
    return Verdict(metric, level, variants, p, stat, None,
                   f"The variants differ on {label} ({listing}, p {_p_is(p)}), but {best.variant} is not "
                   f"clearly ahead of every other variant yet: no winner.")  # fmt: skip
