"""Personal data in hotline tickets (streams/pipeline/privacy.py): masking free text, the caller
number, tickets and dead letters; the unmasked text kept apart."""

from __future__ import annotations

import base64
import hashlib
import re

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from streams.pipeline.decode import Limits, dead_letter
from streams.pipeline.events import CameraReading, Ticket
from streams.pipeline.privacy import (
    PrivateText,
    mask_phone,
    redact,
    redact_alert,
    redact_dead_letter,
    split_private,
)
from streams.pipeline.records import decode_record

NOW = 1_790_000_000_000
FULL_WIDTH = str.maketrans({chr(0xFF10 + d): str(d) for d in range(10)} | {"＠": "@"})
# What must never be readable after redaction (on the text with full-width digits made ASCII).
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])")
ID_18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
LONG_RUN = re.compile(r"(?<![0-9])[0-9]{15,}")

CASES = [
    ("黄岐路口 13812345678 报警", "黄岐路口 138****5678 报警"),
    ("来电人电话：+86 138-1234-5678，说有人打架", "来电人电话：+86 138-****-5678，说有人打架"),
    ("回拨 0086 139 1234 5678", "回拨 0086 139 **** 5678"),
    ("8613812345678请回电", "86138****5678请回电"),
    ("座机(0757)83331234，或 0757-8333-1234", "座机(0757)****1234，或 0757-****-1234"),
    ("报警人身份证44060419900101123X，住3栋", "报警人身份证**************123X，住3栋"),
    ("老身份证号440604900101123", "老身份证号***********1123"),
    ("银行卡 6222 0212 3456 7890 被盗刷", "银行卡 **** **** **** 7890 被盗刷"),
    ("卡号6222021234567890123", "卡号***************0123"),
    ("邮箱 zhang.san@qq.com 回复", "邮箱 z********@qq.com 回复"),
    ("13812345678@163.com", "1**********@163.com"),
    ("全角号码１３８１２３４５６７８", "全角号码１３８****５６７８"),
    ("2024-11-22 13812345678 反映噪音", "2024-11-22 138****5678 反映噪音"),
    # what makes a complaint readable stays: house numbers, counts, times, short numbers
    ("季华五路22号3楼，约30人聚集，14:05开始", "季华五路22号3楼，约30人聚集，14:05开始"),
    ("车牌粤E12345，停在祖庙路1号", "车牌粤E12345，停在祖庙路1号"),
    ("ts 1732240000000", "ts 1732240000000"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_examples_in_chinese_text(text: str, expected: str) -> None:
    assert redact(text) == expected


# -- properties ------------------------------------------------------------------------------
_WORDS = st.sampled_from(("报警", "黄岐路口", "电话", "号", "a", "X", "qq.com", "86", "0757"))
_CHUNKS = _WORDS | st.sampled_from(" ，。-+@.*()\u3000＋－＠（）")  # one character each
_DIGIT = st.sampled_from("0123456789") | st.sampled_from("０１２３４５６７８９")


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    """An 11-digit mobile number as people write it: plain, grouped, with a country code."""
    digits = [
        "1",
        draw(st.sampled_from("3456789")),
        *draw(st.lists(_DIGIT, min_size=9, max_size=9)),
    ]
    sep = draw(st.sampled_from(["", " ", "-"]))
    number = "".join(digits[:3]) + sep + "".join(digits[3:7]) + sep + "".join(digits[7:])
    return draw(st.sampled_from(["", "+86 ", "+86-", "0086", "86"])) + number


texts = st.lists(_CHUNKS | _DIGIT | mobiles() | st.text(max_size=4), max_size=30).map("".join)


@given(texts)
@example("5-13812345678")
@example("138****0757 83331234")
@example("a@13812345678.com")
def test_no_mobile_number_survives(text: str) -> None:
    out = redact(text).translate(FULL_WIDTH)
    assert MOBILE.search(out) is None
    assert ID_18.search(out) is None and LONG_RUN.search(out) is None


@given(st.text(max_size=20), mobiles(), st.text(max_size=20))
def test_a_mobile_between_words_loses_its_middle_four_digits(
    before: str, number: str, after: str
) -> None:
    before, after = f"{before}报", f"警{after}"  # not digits next to the number
    out = redact(before + number + after)
    middle = [c for c in out[len(before) : len(before) + len(number)] if c not in " -+"]
    assert middle[-8:-4] == ["*"] * 4  # the last 11 are the number: 3 kept, 4 masked, 4 kept


@given(texts)
def test_redaction_is_idempotent_and_keeps_the_length(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
    assert len(once) == len(text)
    assert all(a == b or b == "*" for a, b in zip(text, once, strict=True))


@given(st.text().filter(lambda t: not re.search(r"[0-9０-９@＠]", t)))
def test_text_without_digits_or_at_signs_is_unchanged(text: str) -> None:
    assert redact(text) == text


# -- the caller, tickets, dead letters --------------------------------------------------------
def test_mask_phone_drops_the_country_code_of_a_mobile() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("0086 13812345678") == "138****5678"
    assert mask_phone("0757-83331234") == "075****1234"
    assert mask_phone("12345") == "*****"


HOTLINE = {
    "id": "t-1",
    "ts": NOW,
    "channel": "12345",
    "category": "noise",
    "text": "楼上装修太吵，联系我13812345678，身份证44060419900101123X",
    "address": "禅城区祖庙路1号 联系人13912345678",
    "lat": 23.03,
    "lon": 113.12,
    "caller": "13800001111",
}
MASKED_TEXT = "楼上装修太吵，联系我138****5678，身份证**************123X"


def test_decoded_tickets_are_masked_and_their_text_kept_apart() -> None:
    decoded = decode_record("hotline", orjson.dumps(HOTLINE), NOW, Limits())
    camera = CameraReading("c", NOW, 23.0, 113.1, "89411d782b3ffff", "cam", 3, 10.0)
    masked, private = split_private([*decoded.events, camera])
    ticket = masked[0]
    assert isinstance(ticket, Ticket) and masked[1] is camera
    assert ticket.text == MASKED_TEXT
    assert ticket.address == "禅城区祖庙路1号 联系人139****5678"
    assert ticket.caller == "138****1111"
    assert private == [PrivateText("t-1", "12345", NOW, HOTLINE["text"])]
    assert private[0].to_wire() == {
        "id": "t-1",
        "channel": "12345",
        "ts": NOW,
        "text": HOTLINE["text"],
    }


def test_hotline_dead_letters_are_redacted() -> None:
    bad = {**HOTLINE, "channel": "999"}
    (rejection,) = decode_record("hotline", orjson.dumps([bad]), NOW, Limits()).rejections
    letter = dead_letter(rejection, topic="events.hotline", partition=0, offset=7, at_ms=NOW)
    assert "13812345678" in letter["original"] and letter["redacted"] is False
    safe = redact_dead_letter(letter)
    assert safe["redacted"] is True and safe["reason"] == letter["reason"]
    assert "13812345678" not in safe["original"] and "13800001111" not in safe["original"]
    assert "44060419900101123X" not in safe["original"]
    assert orjson.loads(safe["original"])["text"] == MASKED_TEXT
    assert {k: v for k, v in safe.items() if k not in ("original", "redacted")} == {
        k: v for k, v in letter.items() if k not in ("original", "redacted")
    }


def test_a_dead_letter_masks_a_caller_number_of_any_format() -> None:
    bad = {**HOTLINE, "caller": "1381234567", "text": 5}  # 10 digits: not a mobile number
    (rejection,) = decode_record("hotline", orjson.dumps(bad), NOW, Limits()).rejections
    letter = dead_letter(rejection, topic="events.hotline", partition=0, offset=9, at_ms=NOW)
    safe = redact_dead_letter(letter)
    assert orjson.loads(safe["original"])["caller"] == "138****4567"
    assert "1381234567" not in safe["original"]


def test_an_undecodable_hotline_record_is_withheld_with_its_size_and_digest() -> None:
    raw = "联系我13812345678".encode("gb18030")
    (rejection,) = decode_record("hotline", raw, NOW, Limits()).rejections
    letter = dead_letter(rejection, topic="events.hotline", partition=0, offset=8, at_ms=NOW)
    assert letter["error"] == "encoding" and base64.b64decode(letter["original_b64"]) == raw
    safe = redact_dead_letter(letter)
    digest = hashlib.sha256(raw).hexdigest()
    assert safe["original"] == f"withheld: {len(raw)} bytes, not UTF-8, sha256 {digest}"
    assert safe["original_b64"] is None


def test_alerts_reach_the_map_with_ticket_text_redacted_whoever_made_them() -> None:
    ticket = {"id": "t-1", "text": HOTLINE["text"], "caller": "138****1111"}
    alert = {
        "id": "a-1",
        "evidence": {
            "tickets": [ticket],
            "signals": [{"rule": "hotline.cluster", "tickets": [ticket, "odd"]}, {"rule": "x"}],
        },
    }
    safe = redact_alert(alert)
    assert safe["evidence"]["tickets"][0]["text"] == MASKED_TEXT
    cluster = safe["evidence"]["signals"][0]
    assert (
        cluster["tickets"][0] == {**ticket, "text": MASKED_TEXT} and cluster["tickets"][1] == "odd"
    )
    assert safe["evidence"]["signals"][1] == {"rule": "x"}
    assert alert["evidence"]["signals"][0]["tickets"][0]["text"] == HOTLINE["text"]  # a copy
    assert redact_alert({"id": "a-2", "evidence": None}) == {"id": "a-2", "evidence": None}
