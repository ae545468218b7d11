"""The channel taxonomy: ordered, operator-editable rules (ChannelRule) deciding a touch's channel.

Defaults follow GA4's default channel groups, folded into our eleven channels: a paid medium with a
search engine source (or a Google/Microsoft click id) is Paid Search; with a social source (or a
TikTok/X/LinkedIn/Snapchat click id) Paid Social; fbclid alone is Organic Social because Facebook adds
it to every outbound link, paid or not. Sources and hosts are matched as whole names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracking.analytics.models import AcquisitionChannel as C

SEARCH = r"google|bing|baidu|yahoo|duckduckgo|yandex|naver|ecosia|sogou|seznam|qwant|startpage"
SOCIAL = (
    r"facebook|instagram|fb|ig|meta|tiktok|twitter|x|t\.co|linkedin|pinterest|snapchat|reddit|youtube|"
    r"weibo|xiaohongshu|douyin|line|kakao|vk|whatsapp|threads|quora|discord"
)
MARKETPLACE = (
    r"amazon|ebay|rakuten|mercadolibre|mercadolivre|zalando|allegro|walmart|etsy|shopee|lazada|tmall|jd|bol"
)
PAID_MEDIUM = r"^(.*cp.*|ppc|retargeting|paid.*|display|banner|paid[-_ ]?social)$"


def _source(names: str) -> str:
    return rf"^({names})$"


def _host(names: str) -> str:
    # google.com, www.google.co.uk, l.facebook.com, m.youtube.com
    return rf"(^|\.)({names})\.[a-z.]+$"


# (priority, channel, source, medium, campaign, referrer host, click-id name, note)
DEFAULT_RULES: list[tuple[int, str, str, str, str, str, str, str]] = [
    (10, C.AFFILIATE, "", r"^(affiliates?|kol|influencers?|partners?)$", "", "", "", "affiliate/KOL medium"),
    (
        20,
        C.PAID_SEARCH,
        "",
        "",
        "",
        "",
        r"^(gclid|gbraid|wbraid|dclid|msclkid)$",
        "Google/Microsoft Ads click id",
    ),
    (
        30,
        C.PAID_SOCIAL,
        "",
        "",
        "",
        "",
        r"^(ttclid|twclid|li_fat_id|sccid|epik|rdt_cid)$",
        "paid social click id",
    ),
    (40, C.PAID_SEARCH, _source(SEARCH), PAID_MEDIUM, "", "", "", "search engine, paid medium"),
    (50, C.PAID_SOCIAL, _source(SOCIAL), PAID_MEDIUM, "", "", "", "social network, paid medium"),
    (60, C.EMAIL, "", r"^(e[-_ ]?mail|newsletter)$", "", "", "", ""),
    (61, C.EMAIL, r"^(e[-_ ]?mail|newsletter)$", "", "", "", "", ""),
    (70, C.SMS, "", r"^(sms|text)$", "", "", "", ""),
    (71, C.SMS, r"^sms$", "", "", "", "", ""),
    (80, C.PUSH, "", r"^(push|web[-_ ]?push|mobile[-_ ]?notification|notification)$", "", "", "", ""),
    (90, C.MARKETPLACE, _source(MARKETPLACE), "", "", "", "", "marketplace source (imported orders)"),
    (91, C.MARKETPLACE, "", r"^marketplace$", "", "", "", ""),
    (100, C.ORGANIC_SEARCH, "", r"^organic$", "", "", "", ""),
    (101, C.ORGANIC_SEARCH, _source(SEARCH), "", "", "", "", ""),
    (102, C.ORGANIC_SEARCH, "", "", "", _host(SEARCH), "", "search engine referrer"),
    (110, C.ORGANIC_SOCIAL, _source(SOCIAL), "", "", "", "", ""),
    (111, C.ORGANIC_SOCIAL, "", r"^(social|social[-_ ]?network|social[-_ ]?media|sm)$", "", "", "", ""),
    (112, C.ORGANIC_SOCIAL, "", "", "", _host(SOCIAL), "", "social network referrer"),
    (113, C.ORGANIC_SOCIAL, "", "", "", "", r"^fbclid$", ""),
    (120, C.REFERRAL, "", r"^referral$", "", "", "", ""),
    (121, C.REFERRAL, "", "", "", r".", "", "any other site"),
    (122, C.REFERRAL, r".", "", "", "", "", "any other tagged source"),
    (1000, C.DIRECT, "", "", "", "", "", "nothing else matched: typed, bookmarked or untagged"),
]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    channel: str
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (touch field, pattern)


def rules_compile(rules) -> list[CompiledRule]:
    compiled = []
    for rule in rules:
        patterns = []
        for attr, fieldname in (
            ("source_pattern", "source"),
            ("medium_pattern", "medium"),
            ("campaign_pattern", "campaign"),
            ("referrer_pattern", "referrer_host"),
            ("click_id_pattern", "click_id_kind"),
        ):
            text = getattr(rule, attr)
            if text:
                patterns.append((fieldname, re.compile(text, re.IGNORECASE)))
        compiled.append(CompiledRule(rule.channel, tuple(patterns)))
    return compiled


def rules_load() -> list[CompiledRule]:
    from tracking.analytics.models import ChannelRule

    rules = list(ChannelRule.objects.order_by("priority", "id"))
    if not rules:
        # A table emptied by hand (or by a test flush) falls back to the defaults, never to "all Direct".
        return rules_compile(ChannelRule(**dict(zip(_FIELDS, row, strict=True))) for row in DEFAULT_RULES)
    return rules_compile(rule for rule in rules if rule.enabled)


_FIELDS = (
    "priority",
    "channel",
    "source_pattern",
    "medium_pattern",
    "campaign_pattern",
    "referrer_pattern",
    "click_id_pattern",
    "note",
)


def touch_classify(rules: list[CompiledRule], values: dict[str, str]) -> str:
    for rule in rules:
        if all(values.get(name) and pattern.search(values[name]) for name, pattern in rule.patterns):
            return rule.channel
    return C.DIRECT


def pattern_validate(text: str) -> None:
    re.compile(text)
