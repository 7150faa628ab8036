"""What the rules endpoints show to whom (pure).

The rule set in force and its change log are for everyone who reads the map: which
version runs, since when, which rules it holds and whether a change was accepted. Who
made a change and where is for engineers (and admins), who answer for the rules: the
author (an engineer's name, or ``user@host`` of a rule-file reload), the comment (a
reload's says which path on which host, and the worker's process id), the diff and the
checker's problems. Everyone else gets :data:`PUBLIC_FIELDS` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from web.auth import Principal, allows

PUBLIC_FIELDS: Final = frozenset({"version", "status", "source", "at_ms", "previous", "rules"})
"""Fields of a change every reader sees; ``files`` (the rule texts) is added by
``GET /api/rules``, whose answer is the rule set itself."""


def sees_change_details(caller: Principal | None) -> bool:
    """Whether ``caller`` sees who made a change and where (engineers and admins)."""
    return allows(caller, "engineer")


def change_view(change: Mapping[str, Any], caller: Principal | None) -> dict[str, Any]:
    """A change record (``RuleChange.to_dict()`` without ``files``, or with them) as
    ``caller`` may see it."""
    if sees_change_details(caller):
        return dict(change)
    return {k: v for k, v in change.items() if k in PUBLIC_FIELDS or k == "files"}
