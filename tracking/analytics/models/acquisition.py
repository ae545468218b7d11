"""Acquisition, money, LTV and CLV models (issue: Growth analytics I)."""

from __future__ import annotations

from django.db import models


class FxRate(models.Model):
    """The ECB reference rate of one currency on one calendar day, as units per 1 EUR.

    Rows exist for every calendar day a rate may be used on, not only ECB publication days: a
    weekend or holiday carries the latest publication forward (at most FX_CARRY_DAYS), and
    `published_on` says which publication it is. A day without a row has no rate; conversions
    report it as missing instead of inventing one.
    """

    day = models.DateField()
    currency = models.CharField(max_length=3)
    per_eur = models.DecimalField(max_digits=24, decimal_places=10)
    published_on = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["currency", "day"], name="fxrate_currency_day")]

    def __str__(self) -> str:
        return f"{self.currency} {self.day}: {self.per_eur}"
