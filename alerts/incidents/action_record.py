"""The ``alerts.actions`` record: a person's acknowledge / assign / resolve request.

The web server checks the caller and the alert's state, then publishes one
record per request (key: the alert id). The worker routes it to the partition
that holds the incident — the partition of its ``anchor`` cell, the cell of its
first signal — and applies it there (:mod:`alerts.incidents.lifecycle`). Records are
validated on both sides; a bad one is refused with a reason.
"""

from __future__ import annotations

from typing import Annotated

import h3
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from alerts.incidents.lifecycle import Action, ActionKind

NOTE_MAX = 500
NAME_MAX = 100
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]


class ActionRecord(BaseModel):
    """One request, as it travels on ``alerts.actions`` (docs/protocol.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    alert: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    anchor: str = Field(description="H3 cell of the incident's first signal")
    kind: ActionKind
    by: Name
    role: Name
    at: int = Field(gt=0, description="epoch ms, when the web server accepted it")
    note: Note | None = None
    assignee: Name | None = None

    @field_validator("anchor")
    @classmethod
    def _cell(cls, v: str) -> str:
        if not h3.is_valid_cell(v):
            raise ValueError(f"anchor {v[:20]!r} is not an H3 cell")
        return v

    def model_post_init(self, _context: object) -> None:
        if self.kind == "assign" and not self.assignee:
            raise ValueError("assign needs an assignee")

    def to_action(self) -> Action:
        return Action(
            id=self.id,
            alert=self.alert,
            kind=self.kind,
            by=self.by,
            role=self.role,
            at=self.at,
            note=self.note or None,
            assignee=self.assignee,
        )

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump())


def decode_action(raw: bytes | None) -> ActionRecord:
    """Parse and validate one ``alerts.actions`` value; ValueError with the reason."""
    if raw is None:
        raise ValueError("empty record")
    try:
        return ActionRecord.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(problems) from None
