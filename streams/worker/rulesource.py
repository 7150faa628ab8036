"""The worker's rule set, kept current while it runs (hot reload).

Rule-set changes travel on the single-partition ``rules`` topic
(:class:`alerts.rules.change.RuleChange`); the topic is the change log. Each
worker

* reads the whole topic at start and then follows it, adopting every accepted
  change it can load itself (an unloadable one is counted and logged, and the
  last good set stays);
* watches its rule files (``rules.path``, or the packaged set) every
  ``rules.poll_interval_s`` and publishes a change when their text differs from
  the last change that came from files — rejected changes too, so the log shows
  who broke what, and when.

An upload through the web API publishes to the same topic. Tables and windows
are untouched by a swap: the pipeline reads ``current`` for every batch.
"""

from __future__ import annotations

import getpass
import logging
import os
import pwd
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client import Counter, Gauge

from alerts.rules.change import RuleChange, RuleChangeError, fit_record, make_change
from alerts.rules.file import (
    DEFAULT_RULES,
    RuleFileError,
    RuleSet,
    load_rule_texts,
    read_rule_texts,
)
from citybrain.config.settings import Settings
from citybrain.config.topics import RULES
from citybrain.topic_log import follow_log

log = logging.getLogger(__name__)

RULE_CHANGES = Counter(
    "citybrain_rule_changes_total", "Rule-set changes seen on the rules topic", ["source", "status"]
)
RULES_REFUSED = Counter(
    "citybrain_rules_refused_total", "Rule changes this worker could not use", ["reason"]
)
RULES_VERSION = Gauge("citybrain_rules_version_info", "The rule set in force (1)", ["version"])
RULES_SWAPPED = Gauge("citybrain_rules_swapped_at_seconds", "When the rule set last changed")

Publish = Callable[[bytes], Awaitable[None]]


def rules_path(settings: Settings) -> Path:
    """The rule file or directory the worker runs: configured, or the packaged set."""
    return settings.rules.path or DEFAULT_RULES


def read_files(path: Path) -> tuple[dict[str, str], list[str]]:
    """Rule texts under ``path`` keyed by file name (as they travel), and read problems."""
    texts, problems = read_rule_texts([path])
    return {Path(name).name: text for name, text in texts.items()}, [str(p) for p in problems]


def load_start_rules(settings: Settings) -> RuleSet:
    """The rule files as they are at start; raises :class:`RuleFileError` (problems with
    full paths) when invalid: a worker refuses to start on a broken rule set."""
    texts, problems = read_rule_texts([rules_path(settings)])
    if problems:
        raise RuleFileError(problems)
    return load_rule_texts(texts)  # keyed by full path, so problems name the real files


def _fingerprint(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, modification times and sizes: cheap to take every second."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:  # removed between listing and stat: the next poll sees it gone
            continue
        out.append((f.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _author(path: Path) -> str:
    """``owner@host`` of the most recently changed rule file: the best 'who' a file has."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    try:
        newest = max(files, key=lambda f: f.stat().st_mtime_ns)
        owner = pwd.getpwuid(newest.stat().st_uid).pw_name
    except (ValueError, OSError, KeyError):
        owner = getpass.getuser()
    return f"{owner}@{socket.gethostname()}"


class RuleSource:
    """Follows the rules topic and watches the rule files; ``current`` is the set in force."""

    def __init__(self, settings: Settings, initial: RuleSet, publish: Publish) -> None:
        self.settings = settings
        self.path = rules_path(settings)
        self.topic = settings.kafka.topic(RULES)
        self.current = initial
        self.publish = publish
        self.latest: RuleChange | None = None  # newest accepted change on the topic
        self.latest_from_files: RuleChange | None = None  # newest change made from files
        self._fingerprint = _fingerprint(self.path)
        RULES_VERSION.labels(initial.version).set(1)

    async def run(self) -> None:
        """Catch up with the topic, publish the files if they are news, then follow both."""

        async def caught_up() -> None:
            if not await self._check_files(force=True) and self.latest is not None:
                self.take(self.latest)  # e.g. an upload made while this worker was down

        # While catching up nothing is adopted: an old change must not flip the set back
        # and forth; the newest one is taken once the log has been read.
        await follow_log(
            self.settings,
            self.topic,
            lambda value, offset, live: self.receive(value, offset, adopt=live),
            caught_up=caught_up,
            every=self._check_files,
            poll_s=self.settings.rules.poll_interval_s,
        )

    def receive(self, value: bytes | None, offset: int = -1, adopt: bool = True) -> None:
        """Take one record of the rules topic: log it, and adopt it when it is good."""
        try:
            change = RuleChange.from_record(value)
        except RuleChangeError as exc:
            RULES_REFUSED.labels("bad record").inc()
            log.error("rules topic offset %s: unusable record: %s", offset, exc)
            return
        RULE_CHANGES.labels(change.source, change.status).inc()
        if change.source == "file":
            self.latest_from_files = change
        if not change.accepted:
            shown = "; ".join(change.problems[:5])
            log.warning(
                "rule change by %s rejected (%d problem(s)), keeping %s: %s",
                change.author,
                len(change.problems),
                self.current.version,
                shown,
            )
            return
        self.latest = change
        if adopt:
            self.take(change)

    def take(self, change: RuleChange) -> None:
        """Make an accepted change the set in force, if it loads here."""
        try:
            rules = load_rule_texts(change.files)
        except RuleFileError as exc:  # valid where it was made, not here (other code version)
            RULES_REFUSED.labels("invalid here").inc()
            log.error(
                "rule set %s does not load here, keeping %s: %s",
                change.version,
                self.current.version,
                exc,
            )
            return
        if rules.version == self.current.version:
            return
        RULES_VERSION.labels(self.current.version).set(0)
        RULES_VERSION.labels(rules.version).set(1)
        RULES_SWAPPED.set(time.time())
        log.info(
            "rules now version %s (%d rules, %s by %s, was %s)",
            rules.version,
            len(rules.rules),
            change.source,
            change.author,
            self.current.version,
        )
        self.current = rules

    async def _check_files(self, *, force: bool = False) -> bool:
        """Publish the rule files as a change when their text is new to the log; True when
        a change was published."""
        fingerprint = _fingerprint(self.path)
        if fingerprint == self._fingerprint and not force:
            return False
        self._fingerprint = fingerprint
        texts, problems = read_files(self.path)
        if problems:
            RULES_REFUSED.labels("unreadable files").inc()
            log.error(
                "rule files under %s unreadable, keeping %s: %s",
                self.path,
                self.current.version,
                "; ".join(problems),
            )
            return False
        if self.latest_from_files is not None and dict(self.latest_from_files.files) == texts:
            return False  # already in the log (this worker's or another's)
        change, _ = make_change(
            texts,
            previous=self.latest,
            source="file",
            author=_author(self.path),
            at_ms=int(time.time() * 1000),
            comment=f"rule files at {self.path} on {socket.gethostname()} (pid {os.getpid()})",
        )
        if not change.accepted:
            log.error(
                "rule files under %s have %d problem(s); keeping %s:\n%s",
                self.path,
                len(change.problems),
                self.current.version,
                "\n".join(change.problems),
            )
        self.latest_from_files = change  # do not publish the same text twice
        await self.publish(fit_record(change).to_record())  # within the topic's record size
        return True
