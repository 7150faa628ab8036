"""YAML to a tree of nodes that remember where they were written (1-based line and column).

Deliberate differences from a plain YAML 1.1 load, so that what an engineer
types is what the rule means:

* no sexagesimal numbers: ``to: 23:00`` is the text ``"23:00"``, not 1380;
  no leading-zero octal: ``0755`` is text;
* duplicate keys are problems, not "last one wins";
* explicit tags other than the core ones are problems; timestamps stay text;
* ``<<`` merge keys work; aliases are counted (:data:`~alerts.rules.bounds.MAX_ALIASES`),
  nesting is bounded while the text is read (:data:`~alerts.rules.bounds.MAX_DEPTH`)
  and the values built with aliases expanded are bounded
  (:data:`~alerts.rules.bounds.MAX_NODES`), so a "billion laughs" file is a problem,
  not an outage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from alerts.rules.bounds import MAX_ALIASES, MAX_DEPTH, MAX_NODES
from alerts.rules.spec import RuleProblem

MAX_NUMBER_CHARS: Final = 30
"""Digits an integer in a rule file may have (thresholds and durations need far fewer)."""

_CORE = "tag:yaml.org,2002:"
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$|^0x[0-9a-fA-F][0-9a-fA-F_]*$|^0o[0-7][0-7_]*$")
_FLOAT = re.compile(
    r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$"
    r"|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose int and float resolvers know no sexagesimal or leading-zero octal,
    and whose composer stops at :data:`MAX_ALIASES` aliases or :data:`MAX_DEPTH` levels."""

    # A class attribute in PyYAML's design; our own copy, so SafeLoader stays untouched.
    yaml_implicit_resolvers = {  # noqa: RUF012
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_CORE + "int", _CORE + "float")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # Checked while composing, before PyYAML's own recursion goes deep or an alias is
        # taken: a file nested 100,000 levels stops at level 33, not at the recursion limit.
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                message = f"more than {MAX_ALIASES} aliases (*name) in one file"
                raise _TooBig(self._next_mark(), message)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooBig(self._next_mark(), _TOO_DEEP)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def _next_mark(self) -> Mark:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        at = event.start_mark
        return Mark(at.line + 1, at.column + 1, at.index) if at is not None else Mark(1, 1, 0)


_Loader.add_implicit_resolver(_CORE + "int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver(_CORE + "float", _FLOAT, list("-+0123456789."))


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based, in characters
    index: int  # 0-based character offset in the text


Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class YScalar:
    value: Scalar
    start: Mark
    end: Mark


@dataclass(frozen=True, slots=True)
class YSeq:
    items: tuple[YNode, ...]
    start: Mark
    end: Mark


@dataclass(frozen=True, slots=True)
class YEntry:
    key: str
    key_start: Mark
    value: YNode


@dataclass(frozen=True, slots=True)
class YMap:
    entries: tuple[YEntry, ...]
    start: Mark
    end: Mark

    def get(self, key: str) -> YEntry | None:
        return next((e for e in self.entries if e.key == key), None)


YNode = YScalar | YSeq | YMap


@dataclass(frozen=True, slots=True)
class YDocument:
    """A parsed file: its name as given, its text, and its root node (None when empty)."""

    file: str
    text: str
    root: YNode | None
    nodes: int = 0  # values built, aliases expanded: what the file spent of MAX_NODES

    def problem(self, mark: Mark, message: str) -> RuleProblem:
        return RuleProblem(self.file, mark.line, mark.column, message)

    def find(self, node: YNode, needle: str) -> Mark:
        """Where ``needle`` is written inside ``node``'s source text, else ``node``'s start."""
        at = self.text.find(needle, node.start.index, max(node.end.index, node.start.index + 1))
        return node.start if at < 0 else mark_at(self.text, at)


def mark_at(text: str, index: int) -> Mark:
    """The 1-based line and column of character ``index`` in ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return Mark(text.count("\n", 0, index) + 1, index - line_start + 1, index)


def _mark(m: yaml.Mark) -> Mark:
    return Mark(m.line + 1, m.column + 1, m.index)


def plain(node: YNode) -> object:
    """The node as plain Python data (dict, list, scalars), positions dropped."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [plain(i) for i in node.items]
    return {e.key: plain(e.value) for e in node.entries}


def describe(node: YNode | None) -> str:
    """A short phrase naming what was written, for messages: "a list", "the text 'x'"."""
    if node is None or (isinstance(node, YScalar) and node.value is None):
        return "nothing"
    if isinstance(node, YSeq):
        return "a list"
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node.value, bool):
        return str(node.value).lower()
    if isinstance(node.value, str):
        return f"the text {node.value!r}"
    return f"the number {node.value}"


def resolve(root: YNode, loc: tuple[int | str, ...]) -> tuple[YNode, YEntry | None]:
    """The deepest node on path ``loc`` and the map entry it came from.

    Parts that do not name a key or an index (validator tags) are skipped.
    """
    node, entry = root, None
    for part in loc:
        if isinstance(node, YMap) and isinstance(part, str) and (hit := node.get(part)):
            node, entry = hit.value, hit
        elif isinstance(node, YSeq) and isinstance(part, int) and 0 <= part < len(node.items):
            node, entry = node.items[part], None
    return node, entry


class _Builder:
    def __init__(self, doc_file: str, max_nodes: int) -> None:
        self.file = doc_file
        self.problems: list[RuleProblem] = []
        self.count = 0
        self.max_nodes = max_nodes

    def problem(self, mark: Mark, message: str) -> None:
        self.problems.append(RuleProblem(self.file, mark.line, mark.column, message))

    def build(self, node: Node, depth: int) -> YNode:
        self.count += 1
        if self.count > self.max_nodes:
            message = (
                f"more than {MAX_NODES} YAML values in the rule set, aliases expanded "
                "(an alias expanding too far?)"
            )
            raise _TooBig(_mark(node.start_mark), message)
        if depth > MAX_DEPTH:  # an alias can place a deep node deeper still
            raise _TooBig(_mark(node.start_mark), _TOO_DEEP)
        start, end = _mark(node.start_mark), _mark(node.end_mark)
        if isinstance(node, ScalarNode):
            return YScalar(self.scalar(node, start), start, end)
        if isinstance(node, SequenceNode):
            return YSeq(tuple(self.build(i, depth + 1) for i in node.value), start, end)
        assert isinstance(node, MappingNode)
        return YMap(tuple(self.entries(node, depth)), start, end)

    def entries(self, node: MappingNode, depth: int) -> list[YEntry]:
        merged: list[YEntry] = []
        own: list[YEntry] = []
        for key_node, value_node in node.value:
            key_start = _mark(key_node.start_mark)
            if key_node.tag == _CORE + "merge":
                merged += self.merge(value_node, depth)
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(key_start, "a key must be plain text")
                continue
            # Keys are names: keep the text as written (YAML would read `on:` as true).
            key = str(key_node.value)
            first = next((e for e in own if e.key == key), None)
            if first is not None:
                where = f"line {first.key_start.line}"
                self.problem(key_start, f"duplicate key '{key}' (first written at {where})")
                continue
            own.append(YEntry(key, key_start, self.build(value_node, depth + 1)))
        keys = {e.key for e in own}
        return [e for e in merged if e.key not in keys] + own

    def merge(self, node: Node, depth: int) -> list[YEntry]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        out: list[YEntry] = []
        for source in sources:
            built = self.build(source, depth + 1)
            if not isinstance(built, YMap):
                self.problem(built.start, "'<<' merges mappings only")
                continue
            out += [e for e in built.entries if e.key not in {o.key for o in out}]
        return out

    def scalar(self, node: ScalarNode, start: Mark) -> Scalar:
        tag, text = node.tag, str(node.value)
        if tag == _CORE + "null":
            return None
        if tag == _CORE + "bool":
            return text.lower() in ("true", "yes", "on", "y")
        if tag == _CORE + "int":
            digits = text.replace("_", "")
            if len(digits) > MAX_NUMBER_CHARS:  # int() refuses 4,300+ digits by raising
                self.problem(start, f"number of {len(digits)} digits; at most {MAX_NUMBER_CHARS}")
                return None
            return int(digits, 0)
        if tag == _CORE + "float":
            return float(
                text.replace("_", "").lower().replace(".inf", "inf").replace(".nan", "nan")
            )
        if tag not in (_CORE + "str", _CORE + "timestamp", _CORE + "value"):
            self.problem(start, f"unsupported YAML tag {tag}")
        return text


_TOO_DEEP: Final = f"nested more than {MAX_DEPTH} levels deep"


class _TooBig(Exception):
    def __init__(self, mark: Mark, message: str) -> None:
        self.mark = mark
        self.message = message


def parse_yaml(
    file: str, text: str, max_nodes: int = MAX_NODES
) -> tuple[YDocument, list[RuleProblem]]:
    """Parse one YAML document. Syntax errors become problems at their position; so does
    going past a bound of :mod:`alerts.rules.bounds` (then the root is None). ``max_nodes``
    is what is left of the rule set's :data:`MAX_NODES` for this file."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except _TooBig as exc:
        return YDocument(file, text, None), [
            RuleProblem(file, exc.mark.line, exc.mark.column, exc.message)
        ]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _mark(mark) if mark is not None else Mark(1, 1, 0)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.problem and exc.context:
            message += f" ({exc.context})"
        if "'\\t'" in str(exc.problem):
            message += "; YAML indents with spaces, not tabs"
        return YDocument(file, text, None), [RuleProblem(file, where.line, where.column, message)]
    except yaml.reader.ReaderError as exc:
        where = mark_at(text, exc.position)
        problem = RuleProblem(
            file, where.line, where.column, f"character not allowed in YAML: {exc.reason}"
        )
        return YDocument(file, text, None), [problem]
    except RecursionError:
        problem = RuleProblem(file, 1, 1, "YAML nested too deeply")
        return YDocument(file, text, None), [problem]
    if node is None:
        return YDocument(file, text, None), []
    builder = _Builder(file, max_nodes)
    try:
        root = builder.build(node, 0)
    except _TooBig as exc:
        return YDocument(file, text, None, builder.count), [
            RuleProblem(file, exc.mark.line, exc.mark.column, exc.message)
        ]
    return YDocument(file, text, root, builder.count), builder.problems
