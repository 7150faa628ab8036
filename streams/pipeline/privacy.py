"""Personal data in hotline tickets: masking free text, and keeping the unmasked text apart
(pure).

What is masked, by :func:`redact` (everything else in the text stays as written):

* mainland mobile numbers, 11 digits ``1[3-9]…``, also written with spaces or dashes
  and with ``+86`` / ``0086`` / ``86`` in front: ``138****5678`` (first 3 and last 4
  digits kept, as on a caller display);
* landline numbers with an area code, ``0757-83331234``, ``(0757) 8333 1234``: the area
  code and the last 4 digits kept, ``0757-****1234``;
* runs of 15 or more digits (resident ID numbers, 15 or 18 characters with a final
  ``X``; bank cards), and bank cards or ID numbers written in groups
  (``6222 0212 3456 7890``, ``440604 19900101 123X``): only the last 4 kept;
* e-mail addresses: the first character of the name kept, ``z*******@qq.com``.

Full-width digits and signs (``１３８…``, ``＋``, ``－``, ``＠``) count like ASCII
ones. A masked character becomes ``*``, so the text keeps its length and layout.
Masking is applied until nothing more matches, which makes :func:`redact` idempotent.
Numbers shorter than these (house numbers, counts, 8-digit local numbers without an
area code) are left alone: they are what makes a complaint readable.

The unmasked text of a ticket leaves the worker only as a :class:`PrivateText` on the
``hotline.private`` topic, for the web server to show to the roles allowed to see it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

from streams.pipeline.events import Event, Ticket

MASK: Final = "*"

# Full-width forms mapped one character to one, so positions in the search copy are
# positions in the original text.
_SEARCH_FORM: Final = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},  # ０ … ９
        "＋": "+",
        "－": "-",
        "＠": "@",
        "（": "(",
        "）": ")",
        "\u3000": " ",  # ideographic space
    }
)
_MAYBE_PERSONAL: Final = re.compile(r"[0-9@]")
_DIGIT_OR_X: Final = frozenset("0123456789Xx")

_EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])(?P<keep>[A-Za-z0-9._%+-])(?P<hide>[A-Za-z0-9._%+-]*)"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
    re.ASCII,
)
_MOBILE: Final = re.compile(
    r"(?<!\d)(?:(?:\+|00)?86[ -]?)?(?P<number>1[3-9]\d(?:[ -]?\d){8})(?!\d)", re.ASCII
)
# Area codes are 0 and 2-3 digits, never 00 (the international prefix).
_LANDLINE: Final = re.compile(
    r"(?<!\d)(?:\(0[1-9]\d{1,2}\)|0[1-9]\d{1,2})[ -]?(?P<local>\d{3,4}[ -]?\d{4})(?!\d)",
    re.ASCII,
)
_LONG_RUN: Final = re.compile(r"(?<!\d)\d{15,}(?:[Xx](?![A-Za-z]))?(?!\d)", re.ASCII)
_GROUPED: Final = re.compile(
    r"(?<!\d)(?:\d{4}(?:[ -]\d{4}){3,}(?:[ -]\d{1,3})?|\d{6}[ -]\d{8}[ -]\d{3}[\dXx])(?!\d)",
    re.ASCII,
)


def _hide_digits(hidden: list[bool], search: str, start: int, end: int, keep_last: int) -> None:
    """Mark the digits of ``search[start:end]`` hidden, except the last ``keep_last``
    digits (a final ``X`` of an ID number counts as one)."""
    places = [i for i in range(start, end) if search[i] in _DIGIT_OR_X]
    for i in places[: max(0, len(places) - keep_last)]:
        hidden[i] = True


def _mask_once(text: str) -> str:
    """One pass of every pattern over ``text``; a character any pattern hides becomes ``*``."""
    search = text.translate(_SEARCH_FORM)
    hidden = [False] * len(text)
    for m in _EMAIL.finditer(search):
        for i in range(*m.span("hide")):
            hidden[i] = True
    for m in _MOBILE.finditer(search):
        start, end = m.span("number")
        digits = [i for i in range(start, end) if search[i] in _DIGIT_OR_X]
        for i in digits[3:7]:
            hidden[i] = True
    for m in _LANDLINE.finditer(search):
        _hide_digits(hidden, search, *m.span("local"), keep_last=4)
    for pattern in (_LONG_RUN, _GROUPED):
        for m in pattern.finditer(search):
            _hide_digits(hidden, search, *m.span(), keep_last=4)
    if not any(hidden):
        return text
    return "".join(MASK if h else c for c, h in zip(text, hidden, strict=True))


def redact(text: str) -> str:
    """``text`` with phone numbers, ID and bank-card numbers and e-mail addresses masked
    (see the module docstring); the same length, everything else unchanged.

    Idempotent: ``redact(redact(t)) == redact(t)``.
    """
    if not _MAYBE_PERSONAL.search(text.translate(_SEARCH_FORM)):
        return text
    while True:  # ends: each pass that changes anything masks at least one more character
        masked = _mask_once(text)
        if masked == text:
            return text
        text = masked


_DIGITS: Final = re.compile(r"\d")


def mask_phone(phone: str) -> str:
    """A caller number as a caller display shows it, the first 3 and last 4 digits kept:
    ``13812345678`` and ``+86 138-1234-5678`` -> ``138****5678``. The country code of a
    mainland mobile number is dropped; fewer than 8 digits are masked entirely."""
    digits = _DIGITS.findall(phone.translate(_SEARCH_FORM))
    number = "".join(digits)
    for code in ("0086", "86"):
        rest = number.removeprefix(code)
        if rest != number and len(rest) == 11 and rest[0] == "1":
            digits = list(rest)
            break
    if len(digits) < 8:
        return MASK * len(digits)
    return "".join(digits[:3]) + MASK * 4 + "".join(digits[-4:])


def mask_ticket(ticket: Ticket) -> Ticket:
    """The ticket as it may travel on: free text and address redacted (the caller was
    masked when it was decoded)."""
    return replace(
        ticket,
        text=redact(ticket.text),
        address=redact(ticket.address) if ticket.address is not None else None,
    )


@dataclass(frozen=True, slots=True)
class PrivateText:
    """A ticket's unmasked free text: one ``hotline.private`` record (key: the ticket id).

    ``ts`` is the ticket's time, epoch ms; ``channel`` ``"110"`` or ``"12345"``.
    """

    id: str
    channel: str
    ts: int
    text: str

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "ts": self.ts, "text": self.text}


def split_private(events: Iterable[Event]) -> tuple[list[Event], list[PrivateText]]:
    """Decoded events with every ticket masked (:func:`mask_ticket`), and the unmasked text
    of each ticket, in input order."""
    masked: list[Event] = []
    private: list[PrivateText] = []
    for ev in events:
        if isinstance(ev, Ticket):
            private.append(PrivateText(ev.id, ev.channel, ev.ts, ev.text))
            ev = mask_ticket(ev)
        masked.append(ev)
    return masked, private


# A "caller" member in JSON text (its value may hold escapes).
_CALLER_FIELD: Final = re.compile(r'("caller"\s*:\s*")((?:[^"\\]|\\.)*)(")')


def _mask_callers(json_text: str) -> str:
    """Every ``"caller": "…"`` value in ``json_text`` masked as the decoder masks a valid
    ticket's caller, whatever its format; the text is otherwise left as it was."""
    return _CALLER_FIELD.sub(lambda m: m[1] + mask_phone(m[2]) + m[3], json_text)


def redact_dead_letter(letter: dict[str, Any]) -> dict[str, Any]:
    """A dead letter (docs/protocol.md) of a hotline record, fit to publish: ``original``
    redacted, and its ``caller`` values masked like a valid ticket's; ``reason`` redacted;
    an original that is not UTF-8 (so cannot be redacted) withheld, replaced by a note of
    its size and SHA-256, ``original_b64`` null. ``redacted`` is set true."""
    out = {**letter, "redacted": True}
    if isinstance(letter.get("reason"), str):
        out["reason"] = redact(letter["reason"])
    if isinstance(letter.get("original"), str):
        out["original"] = redact(_mask_callers(letter["original"]))
    if letter.get("original_b64") is not None:
        raw = base64.b64decode(letter["original_b64"])
        digest = hashlib.sha256(raw).hexdigest()
        out["original"] = f"withheld: {len(raw)} bytes, not UTF-8, sha256 {digest}"
        out["original_b64"] = None
    return out


def _redacted_tickets(holder: dict[str, Any]) -> dict[str, Any]:
    tickets = holder.get("tickets")
    if not isinstance(tickets, list):
        return holder
    return {
        **holder,
        "tickets": [
            {**t, "text": redact(t["text"])}
            if isinstance(t, dict) and isinstance(t.get("text"), str)
            else t
            for t in tickets
        ],
    }


def redact_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert (docs/protocol.md) with the text of every ticket in its evidence redacted:
    what the web server stores and sends, whichever release of the worker produced it."""
    evidence = alert.get("evidence")
    if not isinstance(evidence, dict):
        return alert
    evidence = dict(_redacted_tickets(evidence))  # a copy: the input stays as it was
    signals = evidence.get("signals")
    if isinstance(signals, list):
        evidence["signals"] = [_redacted_tickets(s) if isinstance(s, dict) else s for s in signals]
    return {**alert, "evidence": evidence}
