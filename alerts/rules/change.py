"""Rule-set changes: who changed the rules, when, what changed, and whether it was taken.

A :class:`RuleChange` carries a whole rule set (file name → YAML text) so that
every worker can load it on its own, plus the change log's facts: author,
time, source (rule files on disk, or an upload through the API), the unified
diff against the set it replaces, and — for a rejected change — every problem
found. Changes travel on the ``rules`` Kafka topic; that topic *is* the change
log, and a record on it is at most :data:`MAX_RECORD_BYTES` (:func:`fit_record`).
Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import orjson

from alerts.rules.bounds import MAX_RULESET_BYTES
from alerts.rules.file import RuleFileError, RuleSet, load_rule_texts

Source = Literal["file", "api"]
Status = Literal["accepted", "rejected"]

#: File names inside a rule set: plain ``name.yaml``, no directories.
FILE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.yaml")
#: Largest rules-topic record, bytes of JSON: Kafka's and aiokafka's default largest
#: request is 1 MiB, and the record's own framing needs a little room.
MAX_RECORD_BYTES: Final = 1_000_000


class RuleChangeError(ValueError):
    """A change record or upload that is not usable; the message says why."""


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One change of the rule set.

    ``version`` is the new set's version (:func:`alerts.rules.file.rules_version`),
    empty when rejected; ``previous`` the version it replaces (None for the
    first); ``at_ms`` epoch ms (wall clock) of the change; ``problems`` the
    checker's messages (``file:line:col: message``) of a rejected change.
    """

    version: str
    files: Mapping[str, str]
    source: Source
    author: str
    at_ms: int
    status: Status
    previous: str | None = None
    diff: str = ""
    problems: tuple[str, ...] = ()
    comment: str = ""
    rules: tuple[str, ...] = field(default=())  # rule ids of an accepted set

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_record(self) -> bytes:
        """The change as a rules-topic record (JSON)."""
        return orjson.dumps(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status,
            "source": self.source,
            "author": self.author,
            "at_ms": self.at_ms,
            "previous": self.previous,
            "comment": self.comment,
            "rules": list(self.rules),
            "problems": list(self.problems),
            "diff": self.diff,
            "files": dict(self.files),
        }

    @classmethod
    def from_record(cls, value: bytes | None) -> RuleChange:
        """A record of the rules topic; raises :class:`RuleChangeError` for bad JSON too."""
        try:
            return cls.from_dict(orjson.loads(value or b"null"))
        except orjson.JSONDecodeError as exc:
            raise RuleChangeError(f"not JSON: {exc}") from None

    @classmethod
    def from_dict(cls, d: Any) -> RuleChange:
        """Validate a decoded record; raises :class:`RuleChangeError` naming the field."""
        if not isinstance(d, dict):
            raise RuleChangeError(f"a rule change is a JSON object, got {type(d).__name__}")
        try:
            files = d["files"]
            if not isinstance(files, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in files.items()
            ):
                raise RuleChangeError("'files' must map file names to text")
            status, source = d["status"], d["source"]
            if status not in ("accepted", "rejected") or source not in ("file", "api"):
                raise RuleChangeError(f"bad status {status!r} or source {source!r}")
            at_ms = d["at_ms"]
            if isinstance(at_ms, bool) or not isinstance(at_ms, int):
                raise RuleChangeError("'at_ms' must be epoch milliseconds")
            return cls(
                version=str(d["version"]),
                files=dict(files),
                source=source,
                author=str(d["author"]),
                at_ms=at_ms,
                status=status,
                previous=d.get("previous"),
                diff=str(d.get("diff", "")),
                problems=tuple(str(p) for p in d.get("problems", ())),
                comment=str(d.get("comment", "")),
                rules=tuple(str(r) for r in d.get("rules", ())),
            )
        except KeyError as exc:
            raise RuleChangeError(f"rule change lacks {exc.args[0]!r}") from None


def check_file_names(files: Mapping[str, str]) -> None:
    """Raise :class:`RuleChangeError` unless every name is a plain ``name.yaml`` and the
    set is non-empty and within :data:`MAX_RULESET_BYTES`."""
    if not files:
        raise RuleChangeError("a rule set needs at least one file")
    for name in files:
        if not FILE_NAME.fullmatch(name):
            raise RuleChangeError(
                f"bad rule file name {name!r}: use letters, digits, '.', '_' or '-', "
                "ending in .yaml, no directories"
            )
    size = sum(len(t.encode()) for t in files.values())
    if size > MAX_RULESET_BYTES:
        raise RuleChangeError(f"rule set of {size} bytes is over {MAX_RULESET_BYTES}")


def diff_files(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    """Unified diff of two rule sets, file by file (added and removed files included)."""
    out: list[str] = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        out.extend(
            difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (after or "").splitlines(keepends=True),
                fromfile=f"a/{name}" if before is not None else "/dev/null",
                tofile=f"b/{name}" if after is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def make_change(
    files: Mapping[str, str],
    *,
    previous: RuleChange | None,
    source: Source,
    author: str,
    at_ms: int,
    comment: str = "",
) -> tuple[RuleChange, RuleSet | None]:
    """Validate ``files`` as a whole rule set and describe the change from ``previous``
    (the last *accepted* change). Returns the change and, when accepted, the rule set."""
    check_file_names(files)
    try:
        rules: RuleSet | None = load_rule_texts(files)
        problems: tuple[str, ...] = ()
    except RuleFileError as exc:
        rules, problems = None, tuple(str(p) for p in exc.problems)
    change = RuleChange(
        version=rules.version if rules else "",
        files=dict(files),
        source=source,
        author=author,
        at_ms=at_ms,
        status="accepted" if rules else "rejected",
        previous=previous.version if previous else None,
        diff=diff_files(previous.files if previous else {}, files),
        problems=problems,
        comment=comment,
        rules=tuple(r.id for r in rules.rules) if rules else (),
    )
    return change, rules


def fit_record(change: RuleChange, limit: int = MAX_RECORD_BYTES) -> RuleChange:
    """``change`` as it can travel on the rules topic, in at most ``limit`` bytes.

    Within the limit it is returned as it is. Otherwise its diff is left out (a line says
    so; the files hold the whole story). A rejected change still too large also leaves
    out its files (no worker loads them) and then as many problems as it must, saying how
    many. An accepted change still too large cannot travel: it becomes a rejected change
    without files whose one problem says so, and nothing changes.
    """
    if len(change.to_record()) <= limit:
        return change
    note = f"(diff of {len(change.diff)} characters left out: the record would be too large)\n"
    change = replace(change, diff=note)
    if len(change.to_record()) <= limit:
        return change
    if change.accepted:
        size = len(change.to_record())
        message = (
            f"rule set too large to log: its change record would be {size} bytes, "
            f"at most {limit}; the rule set in force is unchanged"
        )
        change = replace(change, status="rejected", version="", rules=(), problems=(message,))
    change = replace(change, files={})
    everything, keep = change.problems, len(change.problems)
    while len(change.to_record()) > limit and keep > 0:
        keep //= 2  # a handful of serialisations, however many problems there are
        more = f"… and {len(everything) - keep} more problem(s), left out of the log"
        change = replace(change, problems=(*everything[:keep], more))
    return change
