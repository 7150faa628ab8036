"""Declarative rule files: load a rule set, or check files and list every problem.

A rule file is YAML with one key, ``rules``, a list of rules (the format:
docs/rules.md; its JSON Schema: :func:`rule_schema`, published as
docs/rules.schema.json). A rule set may span files; a directory stands for
every ``*.yaml`` in it, in name order. Rule ids are unique across the set.

Pure apart from reading the files named: :func:`check_rule_text` works on text.
Problems are collected, never raised one at a time, so that an engineer fixes
a file in one go: :func:`check_rule_files` returns them all, and
:func:`load_rule_files` raises :class:`RuleFileError` carrying them all.

The work a rule set can cause is bounded (:mod:`alerts.rules.bounds`): files, bytes,
rules, YAML values with aliases expanded, aliases, nesting, durations and polygon
sizes; a set past a bound gets a problem naming it, and the checker stops there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from alerts.rules.bounds import MAX_FILES, MAX_NODES, MAX_RULES, MAX_RULESET_BYTES
from alerts.rules.file_check import check_rule
from alerts.rules.file_model import rule_schema, rule_schema_json
from alerts.rules.file_shape import FILE_KEYS, unknown_key
from alerts.rules.file_yaml import YMap, YScalar, YSeq, describe, parse_yaml
from alerts.rules.spec import RuleFileError, RuleProblem, RuleSet, RuleSpec

__all__ = [
    "DEFAULT_RULES",
    "RuleFileError",
    "RuleProblem",
    "RuleSet",
    "RuleSpec",
    "check_rule_files",
    "check_rule_text",
    "check_rule_texts",
    "load_rule_files",
    "load_rule_texts",
    "read_rule_texts",
    "rule_schema",
    "rule_schema_json",
    "rules_version",
]

#: The rule set shipped with the project (a directory of rule files).
DEFAULT_RULES: Final = Path(__file__).resolve().parents[1] / "rulesets"
RULE_SUFFIX: Final = ".yaml"


@dataclass(frozen=True, slots=True)
class _IdAt:
    rule_id: str
    file: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class _Left:
    """What is left of the rule set's budgets for the files not yet checked."""

    nodes: int = MAX_NODES
    rules: int = MAX_RULES


@dataclass(frozen=True, slots=True)
class _Checked:
    specs: list[RuleSpec]
    problems: list[RuleProblem]
    ids: list[_IdAt]
    left: _Left


def check_rule_text(text: str, file: str = "<text>") -> tuple[list[RuleSpec], list[RuleProblem]]:
    """The valid rules of one file's text, and every problem in it."""
    checked = _check_text(text, file, _Left())
    problems = checked.problems + _duplicate_ids(checked.ids)
    return checked.specs, sorted(problems, key=lambda p: (p.line, p.column))


def _check_text(text: str, file: str, left: _Left) -> _Checked:
    checked = _check_doc(text, file, left)
    checked.problems.sort(key=lambda p: (p.line, p.column))
    return checked


def _check_doc(text: str, file: str, left: _Left) -> _Checked:
    doc, problems = parse_yaml(file, text, left.nodes)
    left = _Left(nodes=left.nodes - doc.nodes, rules=left.rules)
    # YAML-level problems (duplicate keys, tags) make the rule they sit in invalid too.
    yaml_lines = {p.line for p in problems}
    root = doc.root
    if root is None:
        if not problems:
            problems.append(RuleProblem(file, 0, 0, "empty file: expected 'rules:' and a list"))
        return _Checked([], problems, [], left)
    if not isinstance(root, YMap):
        message = f"a rule file is a mapping with 'rules:', got {describe(root)}"
        return _Checked([], [*problems, doc.problem(root.start, message)], [], left)
    specs: list[RuleSpec] = []
    ids: list[_IdAt] = []
    for entry in root.entries:
        # x- keys are free, as in compose files: a place for YAML anchors shared by rules.
        if entry.key not in FILE_KEYS and not entry.key.startswith("x-"):
            problems.append(unknown_key(doc, entry, "rule file", list(FILE_KEYS)))
    rules = root.get("rules")
    if rules is None:
        problems.append(doc.problem(root.start, "rule file has no 'rules:' list"))
    elif not isinstance(rules.value, YSeq):
        message = f"'rules' must be a list of rules (- id: …), got {describe(rules.value)}"
        problems.append(doc.problem(rules.value.start, message))
    else:
        items = rules.value.items
        if len(items) > left.rules:
            message = f"more than {MAX_RULES} rules in the rule set; the rest are not checked"
            problems.append(doc.problem(items[left.rules].start, message))
            items = items[: left.rules]
        left = _Left(nodes=left.nodes, rules=left.rules - len(items))
        for item in items:
            spec, found = check_rule(doc, item)
            problems += found
            inside = range(item.start.line, item.end.line + 1)
            if spec is not None and not any(line in inside for line in yaml_lines):
                specs.append(spec)
            rule_id = item.get("id") if isinstance(item, YMap) else None
            if rule_id is not None and isinstance(rule_id.value, YScalar):
                at = rule_id.value.start
                ids.append(_IdAt(str(rule_id.value.value), file, at.line, at.column))
    return _Checked(specs, problems, ids, left)


def _expand(paths: Iterable[str | Path]) -> tuple[list[Path], list[RuleProblem]]:
    if isinstance(paths, str | Path):
        paths = [paths]  # one path, not the characters of one
    files: list[Path] = []
    problems: list[RuleProblem] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix == RULE_SUFFIX and p.is_file())
            # A rule file named *.yml would be silently skipped: say so instead.
            problems += [
                RuleProblem(str(p), 0, 0, f"not loaded: rule files must end in {RULE_SUFFIX}")
                for p in sorted(path.glob("*.yml"))
            ]
            if not found:
                problems.append(RuleProblem(str(path), 0, 0, f"no *{RULE_SUFFIX} files here"))
            files += found
        elif path.is_file():
            files.append(path)
        else:
            problems.append(RuleProblem(str(path), 0, 0, "no such file or directory"))
    # A file named twice (itself and through its directory) is loaded once.
    unique, seen = [], set()
    for file in files:
        if file.resolve() not in seen:
            seen.add(file.resolve())
            unique.append(file)
    return unique, problems


def _read(path: Path) -> tuple[str | None, RuleProblem | None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, RuleProblem(str(path), 0, 0, f"cannot read: {exc.strerror or exc}")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, RuleProblem(str(path), line, column, "not UTF-8 text (save as UTF-8)")


def read_rule_texts(paths: Iterable[str | Path]) -> tuple[dict[str, str], list[RuleProblem]]:
    """The text of every rule file of ``paths`` (directories: their ``*.yaml``), by path,
    in load order, and the problems of files that could not be read. Reading stops at
    :data:`MAX_FILES` files or :data:`MAX_RULESET_BYTES` bytes (the size on disk), with a
    problem: a huge file is not read into memory to be refused afterwards."""
    files, problems = _expand(paths)
    texts: dict[str, str] = {}
    size = 0
    for i, path in enumerate(files):
        if i == MAX_FILES:
            problems.append(RuleProblem(str(path), 0, 0, _too_many_files(len(files))))
            break
        with contextlib.suppress(OSError):  # _read says why it cannot be read
            size += path.stat().st_size
        if size > MAX_RULESET_BYTES:
            message = f"not read: the rule set is over {MAX_RULESET_BYTES} bytes with this file"
            problems.append(RuleProblem(str(path), 0, 0, message))
            break
        text, unreadable = _read(path)
        if text is None:
            problems += [unreadable] if unreadable else []
        else:
            texts[str(path)] = text
    if not files and not problems:
        problems.append(RuleProblem("rule files", 0, 0, "no rule files given"))
    return texts, problems


def _too_many_files(count: int) -> str:
    return f"{count} rule files; a rule set has at most {MAX_FILES}"


def _over_bounds(texts: Mapping[str, str]) -> list[RuleProblem]:
    """The set-wide bounds checked before any file is parsed: file count and bytes."""
    where = next(iter(texts), "rule files")
    if len(texts) > MAX_FILES:
        return [RuleProblem(where, 0, 0, _too_many_files(len(texts)))]
    size = sum(len(text.encode()) for text in texts.values())
    if size > MAX_RULESET_BYTES:
        message = f"rule set of {size} bytes; at most {MAX_RULESET_BYTES}"
        return [RuleProblem(where, 0, 0, message)]
    return []


def _check_texts(texts: Mapping[str, str]) -> tuple[list[RuleSpec], list[RuleProblem]]:
    if over := _over_bounds(texts):
        return [], over
    specs: list[RuleSpec] = []
    problems: list[RuleProblem] = []
    ids: list[_IdAt] = []
    left = _Left()
    for name, text in texts.items():
        checked = _check_text(text, name, left)
        specs += checked.specs
        problems += checked.problems
        ids += checked.ids
        left = checked.left
    problems += _duplicate_ids(ids)
    order = {name: i for i, name in enumerate(texts)}
    problems.sort(key=lambda p: (order.get(p.file, -1), p.line, p.column))
    if not specs and not problems:
        where = next(iter(texts), "rule files")
        problems.append(RuleProblem(where, 0, 0, "no rules: the rule set would raise no alert"))
    return specs, problems


def _load(paths: Iterable[str | Path]) -> tuple[list[RuleSpec], list[str], list[RuleProblem]]:
    texts, problems = read_rule_texts(paths)
    specs, found = _check_texts(texts)
    order = {name: i for i, name in enumerate(texts)}
    problems = sorted([*problems, *found], key=lambda p: (order.get(p.file, -1), p.line, p.column))
    return specs, list(texts), problems


def check_rule_texts(texts: Mapping[str, str]) -> list[RuleProblem]:
    """Every problem in the rule set made of ``texts`` (file name → YAML text)."""
    return _check_texts(texts)[1]


def load_rule_texts(texts: Mapping[str, str]) -> RuleSet:
    """The rule set made of ``texts`` (file name → YAML text, in load order), as rule sets
    travel between processes; raises :class:`RuleFileError` with every problem."""
    specs, problems = _check_texts(texts)
    if problems:
        raise RuleFileError(problems)
    return RuleSet(version=rules_version(specs), rules=tuple(specs), sources=tuple(texts))


def _duplicate_ids(ids: Sequence[_IdAt]) -> list[RuleProblem]:
    first: dict[str, _IdAt] = {}
    problems = []
    for at in ids:
        seen = first.setdefault(at.rule_id, at)
        if seen is at:
            continue
        for here, there, what in ((at, seen, "first"), (seen, at, "again")):
            where = f"{there.file}:{there.line}:{there.column}"
            message = f"duplicate rule id '{at.rule_id}' (defined {what} at {where})"
            problems.append(RuleProblem(here.file, here.line, here.column, message))
    return problems


def check_rule_files(paths: Iterable[str | Path]) -> list[RuleProblem]:
    """Every problem in the rule set made of ``paths`` (files or directories), in file order;
    an empty list when it loads clean."""
    return _load(paths)[2]


def load_rule_files(paths: Iterable[str | Path]) -> RuleSet:
    """The rule set made of ``paths`` (files or directories).

    Raises :class:`RuleFileError` with every problem when there is any.
    """
    specs, sources, problems = _load(paths)
    if problems:
        raise RuleFileError(problems)
    return RuleSet(version=rules_version(specs), rules=tuple(specs), sources=tuple(sources))


def rules_version(specs: Iterable[RuleSpec]) -> str:
    """A stable hash of what the rules mean: independent of files, order, comments, layout."""

    def json_default(value: object) -> object:
        if isinstance(value, frozenset):
            return sorted(value)
        raise TypeError(f"cannot hash {type(value).__name__} in a rule")

    canonical = [
        {k: v for k, v in dataclasses.asdict(spec).items() if k != "source"}
        for spec in sorted(specs, key=lambda s: s.id)
    ]
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=json_default)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
