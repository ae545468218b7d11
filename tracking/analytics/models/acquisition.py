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


class AcquisitionChannel(models.TextChoices):
    PAID_SEARCH = "Paid Search"
    PAID_SOCIAL = "Paid Social"
    ORGANIC_SEARCH = "Organic Search"
    ORGANIC_SOCIAL = "Organic Social"
    EMAIL = "Email"
    SMS = "SMS"
    PUSH = "Push"
    AFFILIATE = "Affiliate/KOL"
    REFERRAL = "Referral"
    DIRECT = "Direct"
    MARKETPLACE = "Marketplace"


class ChannelRule(models.Model):
    """One line of the channel taxonomy: the first enabled rule (lowest priority) whose every filled
    pattern matches a touch decides its channel. Patterns are case-insensitive regular expressions
    searched in the value; a blank pattern matches anything. Defaults follow GA4's default channel
    groups (migration 0003); operators edit them in the admin."""

    priority = models.PositiveIntegerField(default=100)
    channel = models.CharField(max_length=32, choices=AcquisitionChannel.choices)
    source_pattern = models.CharField(
        max_length=500, blank=True, help_text="utm_source, e.g. ^(google|bing)$"
    )
    medium_pattern = models.CharField(max_length=500, blank=True, help_text="utm_medium, e.g. ^(cpc|ppc)$")
    campaign_pattern = models.CharField(max_length=500, blank=True)
    referrer_pattern = models.CharField(max_length=500, blank=True, help_text="the referring host")
    click_id_pattern = models.CharField(
        max_length=200, blank=True, help_text="the click-id parameter's name, e.g. ^(gclid|gbraid|wbraid)$"
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.priority}: {self.channel}"


class PartnerKind(models.TextChoices):
    AFFILIATE = "affiliate"
    KOL = "kol", "KOL / influencer"


class Partner(models.Model):
    """An affiliate or KOL. A touch or order is theirs when its utm_source/utm_campaign equals
    `utm_value`, its landing URL has ref=`ref_code`, or the order used `coupon_code`. Their cost is
    commission_percent of the revenue credited to them plus fixed_fee per credited order, counted as
    spend of the Affiliate/KOL channel."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=PartnerKind.choices)
    utm_value = models.CharField(max_length=100, blank=True)
    ref_code = models.CharField(max_length=100, blank=True)
    coupon_code = models.CharField(max_length=100, blank=True)
    commission_percent = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    fixed_fee = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    fee_currency = models.CharField(max_length=3, default="EUR")

    def __str__(self) -> str:
        return self.name


class Touch(models.Model):
    """A marketing touch read once from a page/track event's context (or an imported marketplace
    order): UTM values, click id, referrer and landing page, and the channel it falls in."""

    event_id = models.BigIntegerField(unique=True)
    profile = models.ForeignKey(
        "tracking.Profile", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    source = models.CharField(max_length=200, blank=True)
    medium = models.CharField(max_length=200, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    term = models.CharField(max_length=200, blank=True)
    content = models.CharField(max_length=200, blank=True, help_text="utm_content: the creative")
    click_id_kind = models.CharField(max_length=20, blank=True)
    click_id = models.CharField(max_length=200, blank=True)
    referrer_host = models.CharField(max_length=200, blank=True)
    landing_path = models.CharField(max_length=500, blank=True)
    ref_code = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=32, choices=AcquisitionChannel.choices)
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["profile", "at"], name="touch_profile_at_idx"),
            # The acquisition page's range scans (sessions, first touches, the live tail).
            models.Index(fields=["at"], name="touch_at_idx"),
        ]


class OrderFact(models.Model):
    """An "Order Completed" event as a row: its revenue in its own currency, and (after a refresh)
    in the workspace currency, or NULL with the missing rate counted."""

    event_id = models.BigIntegerField(unique=True)
    profile = models.ForeignKey(
        "tracking.Profile", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    order_id = models.CharField(max_length=200, blank=True)
    revenue = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    coupon = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["profile", "at"], name="orderfact_profile_at_idx"),
            models.Index(fields=["at"], name="orderfact_at_idx"),
        ]


class AttributionModel(models.TextChoices):
    FIRST = "first", "First touch"
    LAST = "last", "Last touch"
    LINEAR = "linear", "Linear"
    POSITION = "position", "Position-based (40/20/40)"


class OrderCredit(models.Model):
    """A share of one order credited to one touch under one model (weights of an order sum to 1).
    An order with no touch in the lookback window is credited whole to Direct (touch NULL)."""

    order = models.ForeignKey(OrderFact, on_delete=models.CASCADE, related_name="credits")
    model = models.CharField(max_length=10, choices=AttributionModel.choices)
    touch = models.ForeignKey(Touch, null=True, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=32)
    campaign = models.CharField(max_length=200, blank=True)
    content = models.CharField(max_length=200, blank=True)
    partner = models.ForeignKey(Partner, null=True, on_delete=models.SET_NULL, related_name="+")
    weight = models.DecimalField(max_digits=12, decimal_places=10)

    class Meta:
        indexes = [models.Index(fields=["model", "channel"], name="ordercredit_model_channel_idx")]


class SpendPlatform(models.TextChoices):
    GOOGLE = "google", "Google Ads"
    META = "meta", "Meta Ads Manager"
    TIKTOK = "tiktok", "TikTok Ads Manager"
    OTHER = "other", "Other (generic CSV)"


class SpendImport(models.Model):
    platform = models.CharField(max_length=16, choices=SpendPlatform.choices)
    file_name = models.CharField(max_length=255, blank=True)
    rows = models.PositiveIntegerField(default=0)
    days = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]


class AdSpend(models.Model):
    """One day of one ad (creative) on one platform: impressions, clicks and cost in the row's currency.
    Re-importing a platform's day replaces all of that day's rows."""

    platform = models.CharField(max_length=16, choices=SpendPlatform.choices)
    day = models.DateField()
    source = models.CharField(max_length=200, help_text="the utm_source its links carry")
    medium = models.CharField(max_length=200)
    channel = models.CharField(max_length=32, choices=AcquisitionChannel.choices)
    campaign = models.CharField(max_length=200)
    ad_group = models.CharField(max_length=200, blank=True)
    ad = models.CharField(max_length=200, blank=True, help_text="the creative; matches utm_content")
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    spend_import = models.ForeignKey(SpendImport, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["platform", "day"], name="adspend_platform_day_idx")]


class ProfilePrediction(models.Model):
    """The latest CLV fit's figures for one profile (also written to its traits)."""

    profile = models.OneToOneField("tracking.Profile", on_delete=models.CASCADE, related_name="+")
    fitted_at = models.DateTimeField()
    frequency = models.IntegerField()
    recency_days = models.FloatField()
    age_days = models.FloatField()
    monetary = models.DecimalField(max_digits=18, decimal_places=4, null=True)
    probability_alive = models.FloatField()
    expected_orders_90d = models.FloatField()
    predicted_clv_12m = models.DecimalField(max_digits=18, decimal_places=4, null=True)


class ClvFit(models.Model):
    """One BG/NBD + Gamma-Gamma fit: its parameters, as-of date and backtest, or why it could not run."""

    created_at = models.DateTimeField(auto_now_add=True)
    as_of = models.DateField()
    currency = models.CharField(max_length=3)
    customers = models.IntegerField(default=0)
    repeat_customers = models.IntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    backtest = models.JSONField(default=dict, blank=True)
    problems = models.JSONField(default=list, blank=True, help_text="what is missing for a fit")
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("view_growth", "Can view acquisition, LTV and CLV pages")]


class GrowthAccess(models.Model):
    """No table, no rows: the admin index entry that opens the growth pages (acquisition, LTV, CLV);
    their permission is analytics.view_growth (on ClvFit)."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "growth page"
        verbose_name_plural = (
            "Growth pages (acquisition by channel, campaign and creative; LTV; predicted CLV)"
        )
