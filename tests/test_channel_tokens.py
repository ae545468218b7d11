"""Link tokens (unsubscribe, open pixel, click) are compact, verifiable and useless once tampered with."""

import pytest
from django.core import signing

from channels import tokens


def _token(url: str, prefix: str, suffix: str) -> str:
    return url.split(prefix, 1)[1].removesuffix(suffix)


def test_each_kind_of_token_reads_back_what_was_signed():
    unsubscribe = _token(tokens.unsubscribe_url(profile_id=7, channel="sms", message_id=42), "/u/", "/")
    assert tokens.unsubscribe_token_read(unsubscribe) == tokens.UnsubscribeClaim(7, "sms", 42)
    general = tokens.unsubscribe_token(profile_id=7, channel="email", message_id=None)
    assert tokens.unsubscribe_token_read(general) == tokens.UnsubscribeClaim(7, "email", None)
    assert tokens.open_token_read(_token(tokens.open_url(message_id=42), "/o/", ".gif")) == 42
    url = "https://shop.example.com/p/1?utm_source=email&x=ä"
    assert tokens.click_token_read(_token(tokens.click_url(message_id=42, url=url), "/c/", "/")) == (42, url)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t.replace("42", "43", 1),  # another message
        lambda t: "1" + t,  # another profile / message id
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # another signature
        lambda t: t.rsplit(".", 1)[0],  # no signature
    ],
)
def test_a_tampered_token_is_refused(forge):
    for token, read in (
        (
            tokens.unsubscribe_token(profile_id=42, channel="email", message_id=42),
            tokens.unsubscribe_token_read,
        ),
        (_token(tokens.open_url(message_id=42), "/o/", ".gif"), tokens.open_token_read),
        (
            _token(tokens.click_url(message_id=42, url="https://shop.example.com/"), "/c/", "/"),
            tokens.click_token_read,
        ),
    ):
        with pytest.raises((signing.BadSignature, ValueError)):
            read(forge(token))


def test_a_token_for_one_purpose_is_useless_for_another():
    open_token = _token(tokens.open_url(message_id=42), "/o/", ".gif")
    with pytest.raises(signing.BadSignature):
        tokens.click_token_read(open_token)
    with pytest.raises(signing.BadSignature):
        tokens.unsubscribe_token_read(open_token)


def test_a_click_token_cannot_be_pointed_at_another_url():
    token = _token(tokens.click_url(message_id=42, url="https://shop.example.com/"), "/c/", "/")
    message_id, encoded, mac = token.split(".")
    evil = tokens.click_url(message_id=42, url="https://evil.example.com/")
    evil_encoded = _token(evil, "/c/", "/").split(".")[1]
    with pytest.raises(signing.BadSignature):
        tokens.click_token_read(f"{message_id}.{evil_encoded}.{mac}")


def test_tokens_signed_before_a_key_rotation_keep_working(settings):
    token = tokens.unsubscribe_token(profile_id=5, channel="email", message_id=9)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-for-this-test-" + "x" * 40
    with pytest.raises(signing.BadSignature):
        tokens.unsubscribe_token_read(token)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert tokens.unsubscribe_token_read(token).message_id == 9


def test_links_in_the_earlier_signed_format_are_still_honoured():
    # Emails already in inboxes carry django.core.signing tokens (the format before the compact one).
    legacy_unsubscribe = signing.dumps([5, "email", 9], salt=tokens.SALT_UNSUBSCRIBE)
    assert tokens.unsubscribe_token_read(legacy_unsubscribe) == tokens.UnsubscribeClaim(5, "email", 9)
    assert tokens.open_token_read(signing.dumps(9, salt=tokens.SALT_OPEN)) == 9
    legacy_click = signing.dumps([9, "https://shop.example.com/"], salt=tokens.SALT_CLICK)
    assert tokens.click_token_read(legacy_click) == (9, "https://shop.example.com/")
    with pytest.raises(signing.BadSignature):
        tokens.open_token_read(signing.dumps(9, salt=tokens.SALT_CLICK))
