"""What the rules endpoints show to whom (web/rule_view.py): who changed the rules and
where is for engineers and admins."""

from __future__ import annotations

from web.auth import Principal
from web.rule_view import PUBLIC_FIELDS, change_view

RELOAD = {
    "version": "v-2",
    "status": "accepted",
    "source": "file",
    "author": "root@ops-host-3",
    "at_ms": 1_765_000_000_000,
    "previous": "v-1",
    "comment": "rule files at /srv/citybrain/rules on ops-host-3 (pid 4242)",
    "rules": ["crowd.density"],
    "problems": [],
    "diff": "--- a/default.yaml\n+++ b/default.yaml\n",
}


def test_engineers_and_admins_see_everything() -> None:
    for role in ("engineer", "admin"):
        assert change_view(RELOAD, Principal("li.wei", role)) == RELOAD


def test_everyone_else_sees_nothing_personal_or_host_specific() -> None:
    public = {
        "version": "v-2",
        "status": "accepted",
        "source": "file",
        "at_ms": 1_765_000_000_000,
        "previous": "v-1",
        "rules": ["crowd.density"],
    }
    for caller in (
        Principal("anonymous", "viewer"),
        Principal("wall-1", "viewer"),
        Principal("desk-a", "dispatcher"),
        Principal("desk-110", "liaison", ("110",)),
        None,
    ):
        seen = change_view(RELOAD, caller)
        assert seen == public
        text = repr(seen)
        assert "root" not in text and "ops-host-3" not in text and "4242" not in text


def test_the_rule_set_keeps_its_files() -> None:
    current = RELOAD | {"files": {"default.yaml": "rules: []\n"}}
    seen = change_view(current, Principal("wall-1", "viewer"))
    assert set(seen) == PUBLIC_FIELDS | {"files"}
    assert seen["files"] == {"default.yaml": "rules: []\n"}
