"""Checks of a rule's templates: the dedupe key and the alert messages.

A dedupe key names fields of the rule's subject only (``{rule}``, ``{cell}``,
``{zone}``, ``{category}``, ``{sensor_type}``, as the subject has them); it
decides which observations are *one* alert. Message placeholders may also name
metrics of the same subject, with a format (``{density:.2f}``) that is tried
on a sample value here, so that a bad format fails in review, not at 2 a.m.
"""

from __future__ import annotations

import re
from typing import Final

from alerts.rules.catalog import DEDUPE_FIELDS, METRICS, SUBJECT_FIELDS, Subject
from alerts.rules.file_model import MessageModel
from alerts.rules.file_values import did_you_mean, placeholders
from alerts.rules.spec import Message

#: (path inside the rule, message, text to point at or None)
Found = tuple[tuple[str, ...], str, str | None]

DEFAULT_DEDUPE: Final[dict[Subject, str]] = {
    "cell": "{rule}:{cell}",
    "sensor": "{rule}:{cell}:{sensor_type}",
    "hotline": "{rule}:{category}:{cell}",
    "zone": "{rule}:{zone}",
}
_SAMPLE: Final[dict[str, object]] = {"number": 1.5, "bool": True}
MAX_FORMAT_NUMBER: Final = 40
"""Largest width or precision a placeholder's format may ask for: a message is a line
on a screen, and ``{hotline_count:>50000000.0f}`` would build 50 MB per alert."""
_FORMAT_NUMBERS: Final = re.compile(r"\d+")


def check_dedupe(template: str | None, subject: Subject | None) -> tuple[str | None, list[Found]]:
    """The dedupe template (the subject's default when None) and its problems.

    Without a subject (the metric is unknown) only fields unknown to every subject count.
    """
    if template is None:
        return (DEFAULT_DEDUPE[subject] if subject else None), []
    at = ("dedupe",)
    if not template.strip():
        return None, [(at, "dedupe key is empty; leave it out for one alert per subject", None)]
    try:
        fields = placeholders(template)
    except ValueError as exc:
        return None, [(at, f"dedupe: {exc}", None)]
    allowed = SUBJECT_FIELDS[subject] if subject else DEDUPE_FIELDS
    found: list[Found] = []
    for ph in fields:
        if ph.name not in DEDUPE_FIELDS:
            hint = did_you_mean(ph.name, DEDUPE_FIELDS)
            message = f"unknown field {ph.raw} in dedupe key{hint}; fields: {', '.join(allowed)}"
            found.append((at, message, ph.raw))
        elif ph.name not in allowed:
            message = (
                f"dedupe field {ph.raw} does not exist for {subject} metrics; "
                f"fields: {', '.join(allowed)}"
            )
            found.append((at, message, ph.raw))
        elif ph.spec:
            found.append((at, f"dedupe field {ph.raw} takes no format", ph.raw))
    return (None if found else template), found


def check_message(
    model: MessageModel | None, subject: Subject | None
) -> tuple[Message | None, list[Found]]:
    """The messages (English defaults to the Chinese) and the problems of their placeholders."""
    if model is None:
        return None, []
    found: list[Found] = []
    for lang, template in (("zh", model.zh), ("en", model.en)):
        if template is None:
            continue
        at = ("message", lang)
        if not template.strip():
            found.append((at, f"message.{lang} is empty", None))
            continue
        try:
            fields = placeholders(template)
        except ValueError as exc:
            found.append((at, f"message.{lang}: {exc}", None))
            continue
        found += [
            (at, f"message.{lang}: {problem}", ph.raw)
            for ph in fields
            if (problem := _placeholder_problem(ph.name, ph.spec, ph.raw, subject))
        ]
    message = Message(zh=model.zh, en=model.en if model.en is not None else model.zh)
    return (None if found else message), found


def _placeholder_problem(name: str, spec: str, raw: str, subject: Subject | None) -> str | None:
    fields = SUBJECT_FIELDS[subject] if subject else DEDUPE_FIELDS
    metric = METRICS.get(name)
    sample: object
    if name in fields:
        sample = "x"
    elif metric is not None and metric.subject == (subject or metric.subject):
        sample = metric.levels[-1] if metric.levels else _SAMPLE[metric.kind]
    elif metric is not None:
        return f"placeholder {raw} is a {metric.subject} metric; this rule is on {subject} metrics"
    else:
        names = [
            *fields,
            *(m.name for m in METRICS.values() if m.subject == (subject or m.subject)),
        ]
        return f"unknown placeholder {raw}{did_you_mean(name, names)}"
    if spec:
        # (a format is short: the length test keeps int() away from huge digit runs)
        if len(spec) > 32 or any(int(n) > MAX_FORMAT_NUMBER for n in _FORMAT_NUMBERS.findall(spec)):
            return (
                f"format in placeholder {raw[:80]} asks for a width or precision over "
                f"{MAX_FORMAT_NUMBER}"
            )
        try:
            format(sample, spec)
        except (ValueError, TypeError) as exc:
            return f"bad format in placeholder {raw} ({exc})"
    return None
