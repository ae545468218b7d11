"""Intervals and significance tests against published and hand-computed values."""

from __future__ import annotations

import pytest

from journeys.reports.stats import (
    ab_verdict,
    chi_square,
    newcombe_difference,
    ratio_interval,
    two_proportion_z,
    wilson,
)


def test_wilson_interval_matches_newcombe_1998_example():
    # Newcombe (1998), Statistics in Medicine 17:857, example 81/263: Wilson score 0.2553 to 0.3662.
    low, high = wilson(81, 263)
    assert round(low, 4) == 0.2553 and round(high, 4) == 0.3662


def test_difference_interval_matches_newcombe_1998_method_10():
    # Newcombe (1998), Statistics in Medicine 17:873, example 56/70 - 48/80: method 10 gives 0.0524 to 0.3339.
    low, high = newcombe_difference(56, 70, 48, 80)
    assert round(low, 4) == 0.0524 and round(high, 4) == 0.3339


def test_two_proportion_z_test_and_chi_square_agree_with_hand_computation():
    # p1 = .8, p2 = .6, pooled = 104/150; se = sqrt(.69333 * .30667 * (1/70 + 1/80)) = .075467
    z, p = two_proportion_z(56, 70, 48, 80)
    assert z == pytest.approx(2.6502, abs=1e-4)
    assert p == pytest.approx(0.00804, abs=1e-5)
    stat, p_chi, dof = chi_square([(56, 70), (48, 80)])
    assert dof == 1 and stat == pytest.approx(z * z) and p_chi == pytest.approx(p)


def test_relative_uplift_interval_contains_the_ratio():
    low, high = ratio_interval(56, 70, 48, 80)
    assert low < (0.8 / 0.6 - 1) < high
    assert ratio_interval(0, 70, 48, 80) is None


def test_a_winner_is_called_only_when_significant():
    clear = ab_verdict([("A", 200, 2000), ("B", 280, 2000)], metric="click rate")
    assert clear.winner == "B" and "Variant B wins" in clear.sentence and clear.p_value < 0.05
    noise = ab_verdict([("A", 200, 2000), ("B", 215, 2000)], metric="click rate")
    assert noise.winner is None and "could be chance" in noise.sentence
    # B beats A clearly but not C: the overall test is significant, no winner yet.
    close = ab_verdict([("A", 100, 2000), ("B", 180, 2000), ("C", 170, 2000)], metric="click rate")
    assert close.p_value < 0.05 and close.winner is None and "not clearly ahead" in close.sentence
    strict = ab_verdict([("A", 200, 2000), ("B", 240, 2000)], metric="click rate", level=0.99)
    assert strict.winner is None
    assert ab_verdict([("A", 3, 10)], metric="open rate").winner is None


def test_a_p_value_below_the_smallest_double_is_not_called_zero():
    verdict = ab_verdict([("A", 200_000, 500_000), ("B", 300_000, 500_000)], metric="click rate")
    assert verdict.winner == "B"
    assert "p < 1e-300" in verdict.sentence and "p = 0" not in verdict.sentence
