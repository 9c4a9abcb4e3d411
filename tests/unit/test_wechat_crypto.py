"""WeChat's signatures and safe-mode AES, against the published sample and by round trips.

The reference vector is WeChat's own encryption sample (token "123456", EncodingAESKey
"kWxPEV2U…", AppID/CorpID "wx49f0ab532d5d035a"), the one wechatpy's tests use too: the
Official Account and WeCom schemes are the same algorithm.
"""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels.wechat import (
    BadMessage,
    WeChatCrypto,
    message_to_inbound,
    parse_message,
    pkcs7_pad,
    sign,
    signature_matches,
)

TOKEN = "123456"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APP_ID = "wx49f0ab532d5d035a"

SAMPLE_ENCRYPTED = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTy"
    "eDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYy"
    "olBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWO"
    "MZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7ml"
    "sl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
SAMPLE_MSG_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
SAMPLE_TIMESTAMP = "1411525903"
SAMPLE_NONCE = "461056294"

SAMPLE_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
SAMPLE_REPLY_ENCRYPTED = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGs"
    "L8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSj"
    "PUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJv"
    "FurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFY"
    "FMNMpatF9XiKzHo3"
)
SAMPLE_REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"


@pytest.fixture
def crypto() -> WeChatCrypto:
    return WeChatCrypto(AES_KEY, APP_ID)


def test_the_published_sample_message_verifies_and_decrypts(crypto: WeChatCrypto):
    assert signature_matches(
        SAMPLE_MSG_SIGNATURE, TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPTED
    )
    fields = parse_message(crypto.decrypt(SAMPLE_ENCRYPTED).encode())
    assert (fields["Content"], fields["FromUserName"]) == ("test", "messense")


def test_encrypting_the_published_sample_reply_gives_the_published_ciphertext(
    crypto: WeChatCrypto,
):
    encrypted = crypto.encrypt(SAMPLE_REPLY, random_prefix=b"1234567890123456")
    assert encrypted == SAMPLE_REPLY_ENCRYPTED
    assert sign(TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, encrypted) == SAMPLE_REPLY_SIGNATURE


def test_a_signature_is_the_sha1_of_the_sorted_parts_and_order_does_not_matter():
    assert sign("token", "1700000000", "nonce") == sign("nonce", "token", "1700000000")
    assert len(sign("a")) == 40
    assert signature_matches(sign("t", "1", "n").upper(), "t", "1", "n")


@pytest.mark.parametrize("given", [None, "", "0" * 40, "not hex at all", "é" * 40])
def test_a_wrong_or_missing_signature_does_not_match(given):
    assert not signature_matches(given, TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE)


def test_a_signature_over_a_tampered_ciphertext_does_not_match():
    tampered = "A" + SAMPLE_ENCRYPTED[1:]
    assert not signature_matches(
        SAMPLE_MSG_SIGNATURE, TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, tampered
    )


@pytest.mark.parametrize("message", ["", "<xml/>", "净土 ཞི་བདེ " * 200])
def test_encryption_round_trips_any_message(crypto: WeChatCrypto, message: str):
    assert crypto.decrypt(crypto.encrypt(message)) == message


def test_two_encryptions_of_one_message_differ_by_their_random_prefix(crypto: WeChatCrypto):
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_a_message_for_another_appid_is_refused(crypto: WeChatCrypto):
    other = WeChatCrypto(AES_KEY, "wx0000000000000000")
    with pytest.raises(BadMessage, match="AppID"):
        crypto.decrypt(other.encrypt("<xml/>"))


def test_a_message_under_another_key_is_refused(crypto: WeChatCrypto):
    other = WeChatCrypto("A" * 43, APP_ID)
    with pytest.raises(BadMessage):
        crypto.decrypt(other.encrypt("<xml><Content>hi</Content></xml>"))


def _raw_encrypt(plain: bytes) -> str:
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def test_bad_padding_is_refused(crypto: WeChatCrypto):
    body = b"0123456789abcdef" + struct.pack(">I", 2) + b"hi" + APP_ID.encode()
    padded = pkcs7_pad(body)
    broken = padded[:-2] + bytes([padded[-1] ^ 1]) + padded[-1:]  # one pad byte wrong
    with pytest.raises(BadMessage, match="padding"):
        crypto.decrypt(_raw_encrypt(broken))
    zero = body + b"\x00" * (32 - len(body) % 32)  # a zero pad length is no padding
    with pytest.raises(BadMessage, match="padding"):
        crypto.decrypt(_raw_encrypt(zero))


def test_a_length_field_beyond_the_plaintext_is_refused(crypto: WeChatCrypto):
    body = b"0123456789abcdef" + struct.pack(">I", 10_000) + b"hi" + APP_ID.encode()
    with pytest.raises(BadMessage, match="length"):
        crypto.decrypt(_raw_encrypt(pkcs7_pad(body)))


@pytest.mark.parametrize("encrypted", ["", "%%%not base64%%%", "AAAA", "QUJD" * 5])
def test_ciphertexts_that_are_not_whole_blocks_of_base64_are_refused(crypto, encrypted):
    with pytest.raises(BadMessage):
        crypto.decrypt(encrypted)


@pytest.mark.parametrize("key", ["", "short", "A" * 42, "A" * 44, "!" * 43])
def test_an_encoding_aes_key_that_is_not_43_base64_characters_is_refused(key):
    with pytest.raises(ValueError):
        WeChatCrypto(key, APP_ID)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><FromUserName>oUser</FromUserName><Content>&xxe;</Content></xml>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<xml><Content>&lol2;</Content></xml>"""


@pytest.mark.parametrize(
    "body",
    [
        XXE,
        LAUGHS,
        b"<!DOCTYPE xml><xml/>",
        b"<xml><Content>&undefined;</Content></xml>",
        b"<xml><Content>unclosed</xml>",
        b"not xml",
        b"",
        b"<other><Content>x</Content></other>",
        b"<xml>" + b"x" * 1_000_001 + b"</xml>",
    ],
)
def test_unsafe_or_malformed_xml_is_refused(body: bytes):
    with pytest.raises(BadMessage):
        parse_message(body)


def test_a_text_message_becomes_an_inbound_with_its_msgid_as_update_id():
    fields = parse_message(
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
        b"<FromUserName><![CDATA[oAbc123]]></FromUserName><CreateTime>1700000000</CreateTime>"
        b"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello <world>]]></Content>"
        b"<MsgId>987654321</MsgId></xml>"
    )
    inbound = message_to_inbound(fields)
    assert inbound is not None
    assert (inbound.channel, inbound.user_id, inbound.chat_id) == ("wechat", "oAbc123", "oAbc123")
    assert (inbound.text, inbound.update_id) == ("hello <world>", "987654321")


def test_a_menu_tap_becomes_the_callback_of_the_offered_button():
    inbound = message_to_inbound(
        {"FromUserName": "oAbc", "MsgType": "text", "Content": "Air", "bizmsgmenuid": "r:g:air"}
    )
    assert inbound is not None and (inbound.callback, inbound.text) == ("r:g:air", None)


def test_a_location_is_gcj02_with_x_as_latitude():
    inbound = message_to_inbound(
        {"FromUserName": "oAbc", "MsgType": "location", "Location_X": "29.2", "Location_Y": "88.9"}
    )
    assert inbound is not None and inbound.location is not None
    assert (inbound.location.lat, inbound.location.lon, inbound.location.datum) == (
        29.2,
        88.9,
        "gcj02",
    )


def test_events_become_start_callbacks_or_nothing():
    base = {"FromUserName": "oAbc", "MsgType": "event", "CreateTime": "1700000000"}
    follow = message_to_inbound({**base, "Event": "subscribe"})
    assert follow is not None and (follow.text, follow.update_id) == ("/start", "oAbc:1700000000")
    scanned = message_to_inbound({**base, "Event": "subscribe", "EventKey": "qrscene_ABCDE23456"})
    assert scanned is not None and scanned.text == "/start ABCDE23456"
    click = message_to_inbound({**base, "Event": "CLICK", "EventKey": "menu:report"})
    assert click is not None and click.callback == "menu:report"
    assert message_to_inbound({**base, "Event": "unsubscribe"}) is None
    assert message_to_inbound({**base, "FromUserName": "<script>"}) is None
