"""First pass over a rule: which keys it has and whether each value has the right shape.

Each key of a rule is validated on its own against its field of
:class:`~alerts.rules.file_model.RuleModel`, so one bad key never hides the
problems of the others, and the meaning checks that follow still see every
well-formed value. pydantic's errors are turned into plain sentences at the
line and column of the value at fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Final, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from alerts.rules.file_model import FIXED_SEVERITY, RuleFileModel, RuleModel
from alerts.rules.file_values import did_you_mean
from alerts.rules.file_yaml import (
    YDocument,
    YEntry,
    YMap,
    YNode,
    YScalar,
    describe,
    plain,
    resolve,
)
from alerts.rules.spec import RuleProblem


def _adapter(field: FieldInfo) -> TypeAdapter[Any]:
    """A validator of one field alone: its type with everything declared on the field."""
    annotated: Any = Annotated[field.annotation, field]
    return TypeAdapter(annotated)


#: alias -> (field name, validator of that field alone)
_FIELDS: Final[dict[str, tuple[str, TypeAdapter[Any]]]] = {
    field.alias or name: (name, _adapter(field)) for name, field in RuleModel.model_fields.items()
}
RULE_KEYS: Final = tuple(_FIELDS)
REQUIRED_KEYS: Final = tuple(
    field.alias or name for name, field in RuleModel.model_fields.items() if field.is_required()
)
FILE_KEYS: Final = tuple(RuleFileModel.model_fields)

_EXPECTED: Final = {
    "string_type": "text",
    "float_type": "a number",
    "int_type": "a whole number",
    "bool_type": "true/false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
}


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models(arg)


#: key of the rule -> the model of its nested mapping (for "did you mean" on nested keys)
_NESTED: Final[dict[str, type[BaseModel]]] = {
    alias: model
    for alias, (name, _) in _FIELDS.items()
    for model in _models(RuleModel.model_fields[name].annotation)
}


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def unknown_key(doc: YDocument, entry: YEntry, where: str, known: list[str]) -> RuleProblem:
    """Problem for a key that the format does not know, with the closest known key."""
    hint = did_you_mean(entry.key, known) or f"; known keys: {', '.join(known)}"
    return doc.problem(entry.key_start, f"unknown key '{entry.key}' in {where}{hint}")


def shape_rule(doc: YDocument, node: YNode) -> tuple[dict[str, Any], list[RuleProblem]]:
    """The well-formed values of a rule by field name, and the shape problems found."""
    if not isinstance(node, YMap):
        message = f"a rule must be a mapping (id: …, metric: …), got {describe(node)}"
        return {}, [doc.problem(node.start, message)]
    values: dict[str, Any] = {}
    problems: list[RuleProblem] = []
    for entry in node.entries:
        if entry.key not in _FIELDS:
            problems.append(unknown_key(doc, entry, "rule", list(RULE_KEYS)))
            continue
        name, adapter = _FIELDS[entry.key]
        try:
            values[name] = adapter.validate_python(plain(entry.value))
        except ValidationError as exc:
            problems += _translate(doc, node, entry.key, exc.errors())
    rule_id = node.get("id")
    label = (
        f"rule '{rule_id.value.value}'"
        if rule_id and isinstance(rule_id.value, YScalar)
        else "rule"
    )
    for key in REQUIRED_KEYS:
        if node.get(key) is None:
            problems.append(doc.problem(node.start, f"{label} is missing '{key}'"))
    return values, problems


def _translate(
    doc: YDocument, rule: YMap, key: str, errors: list[ErrorDetails]
) -> list[RuleProblem]:
    # Errors of one value under a union (a number or text or …) are merged into one sentence.
    merged: dict[int, tuple[YNode, list[str]]] = {}
    problems: list[RuleProblem] = []
    for error in errors:
        loc = (key, *error["loc"])
        node, entry = resolve(rule, loc)
        kind = error["type"]
        if kind == "extra_forbidden" and entry is not None:
            model = _NESTED.get(key)
            known = _keys(model) if model else []
            problems.append(unknown_key(doc, entry, key, known))
        elif kind == "missing":
            problems.append(doc.problem(node.start, f"{key} is missing '{loc[-1]}'"))
        elif kind in _EXPECTED or kind == "literal_error":
            if kind == "literal_error":
                wanted = f"one of {error.get('ctx', {}).get('expected', '')}"
                if FIXED_SEVERITY in loc:
                    wanted += ", or thresholds {warning: …, critical: …}"
                if isinstance(node, YScalar) and isinstance(node.value, str):
                    hint = did_you_mean(node.value, _literal_words(wanted))
                    problems.append(
                        doc.problem(node.start, f"'{node.value}' is not {wanted}{hint}")
                    )
                    continue
            else:
                wanted = _EXPECTED[kind]
            _, wanted_here = merged.setdefault(id(node), (node, []))
            if wanted not in wanted_here:
                wanted_here.append(wanted)
        elif kind in ("too_short", "too_long"):
            problems.append(doc.problem(node.start, _length_message(key, error)))
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(doc.problem(node.start, f"{key}: {message}"))
    for node, expected in merged.values():
        wanted = ", ".join(expected[:-1]) + (" or " if len(expected) > 1 else "") + expected[-1]
        problems.append(doc.problem(node.start, f"{key}: expected {wanted}, got {describe(node)}"))
    return problems


def _literal_words(expected: str) -> list[str]:
    return [w.strip("', ") for w in expected.replace(" or ", ",").split(",") if "'" in w]


def _length_message(key: str, error: ErrorDetails) -> str:
    ctx = error.get("ctx", {})
    if key == "scope" and "polygon" in error["loc"]:
        return "a polygon position is [lon, lat]: two numbers"
    if error["type"] == "too_short":
        return f"{key}: needs at least {ctx.get('min_length')} item(s)"
    return f"{key}: takes at most {ctx.get('max_length')} item(s)"
