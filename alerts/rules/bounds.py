"""The bounds on the work one rule set may cause its checker, each with its unit.

A rule set comes from engineers, through the API or rule files on disk; a set past any
bound is refused with a problem that names the bound, so that checking takes seconds at
the worst (about 3 s of one core measured) whatever the set holds. The same bounds apply
to uploads (:mod:`web.rules_api`), to rule files a worker reads and to ``citybrain rules
check``.
Documented in docs/rules.md ("Bounds"); pure constants, no code.
"""

from __future__ import annotations

from typing import Final

MAX_RULESET_BYTES: Final = 800_000
"""Bytes of YAML text (UTF-8) in a rule set, all files together: an accepted set travels
whole in one record of the rules topic, at most 1,000,000 bytes of JSON
(:data:`alerts.rules.change.MAX_RECORD_BYTES`), which escaping makes longer than the text."""

MAX_FILES: Final = 20
"""Files in a rule set."""

MAX_RULES: Final = 500
"""Rules in a rule set, all files together (the default set has 10)."""

MAX_NODES: Final = 50_000
"""YAML values (scalars, lists and mappings) in a rule set, all files together, counted with
aliases expanded: an "alias bomb" of a few hundred bytes is refused, not expanded."""

MAX_ALIASES: Final = 100
"""Alias uses (``*name``) in one file."""

MAX_DEPTH: Final = 32
"""Nesting levels of YAML lists and mappings (a rule with a polygon scope needs 8)."""

MAX_DURATION_MS: Final = 7 * 24 * 3_600_000
"""Longest duration a rule may state (dwell, cooldown, escalate after), ms: 7 days."""

MAX_POLYGON_POSITIONS: Final = 100
"""Positions in one rule's scope polygon, all rings together (its check is quadratic)."""
