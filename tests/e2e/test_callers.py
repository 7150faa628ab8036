"""Who is calling, over real HTTP: the rule change log on the stack's own web server."""

from __future__ import annotations

import pytest

from citybrain.stack import EmbeddedStack
from tests.e2e.kit import http, wait_for

pytestmark = [pytest.mark.e2e]


def test_the_rule_change_log_names_people_and_hosts_to_engineers_only(
    stack: EmbeddedStack,
) -> None:
    base = stack.url() + "api/rules"
    engineer = stack.token_files["engineer"].read_text().strip()
    dispatcher = stack.token_files["dispatcher"].read_text().strip()
    wait_for(lambda: http("GET", base + "/changes")[1].get("changes"), 30, "rule changes")
    full = http("GET", base + "/changes", engineer)[1]["changes"]
    reload = next(c for c in full if c["source"] == "file")  # the worker read the rule files
    assert "@" in reload["author"] and "(pid " in reload["comment"]  # the on-call engineer's
    assert http("GET", base, engineer)[1]["author"] == full[0]["author"]
    public = {"version", "status", "source", "at_ms", "previous", "rules"}
    for token in (None, dispatcher):  # the anonymous viewer, a dispatcher
        status, body = http("GET", base + "/changes", token)
        assert status == 200
        assert [set(c) for c in body["changes"]] == [public] * len(full)
        assert [c["version"] for c in body["changes"]] == [c["version"] for c in full]
        status, current = http("GET", base, token)
        assert status == 200 and set(current) == public | {"files"}
        assert reload["author"] not in str(body) + str(current)
