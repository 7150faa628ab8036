"""Rule-set changes fit one record of the rules topic: the diff goes first, then a
rejected change's files and problems; an accepted set too large to log is refused."""

from __future__ import annotations

from dataclasses import replace

from alerts.rules.bounds import MAX_RULESET_BYTES
from alerts.rules.change import MAX_RECORD_BYTES, RuleChange, fit_record, make_change
from alerts.rules.file import DEFAULT_RULES

DEFAULT_TEXT = (DEFAULT_RULES / "default.yaml").read_text(encoding="utf-8")


def change(files: dict[str, str], previous: RuleChange | None = None) -> RuleChange:
    return make_change(files, previous=previous, source="api", author="eng", at_ms=1)[0]


def padded(size: int) -> str:
    """The default set with a comment making it ``size`` bytes of UTF-8."""
    return DEFAULT_TEXT + "# " + "x" * (size - len(DEFAULT_TEXT.encode()) - 3) + "\n"


def test_a_change_that_fits_is_logged_as_it_is() -> None:
    small = change({"default.yaml": DEFAULT_TEXT})
    assert small.accepted and fit_record(small) is small


def test_the_largest_set_travels_without_its_diff() -> None:
    previous = change({"default.yaml": padded(MAX_RULESET_BYTES)})
    largest = change({"other.yaml": padded(MAX_RULESET_BYTES)}, previous)
    assert largest.accepted and len(largest.to_record()) > MAX_RECORD_BYTES  # diff: 1.6 MB
    logged = fit_record(largest)
    assert len(logged.to_record()) <= MAX_RECORD_BYTES
    assert logged.accepted and logged.files == largest.files
    assert logged.version == largest.version and logged.rules == largest.rules
    assert logged.diff.startswith(f"(diff of {len(largest.diff)} characters left out")
    assert RuleChange.from_record(logged.to_record()) == logged


def test_an_accepted_set_too_large_to_log_is_refused_with_the_sizes() -> None:
    # Quotes and backslashes double in JSON: a set within the byte bound, beyond the record.
    heavy = DEFAULT_TEXT + "# " + '"\\' * 300_000 + "\n"
    accepted = change({"default.yaml": heavy})
    assert accepted.accepted
    logged = fit_record(accepted)
    assert not logged.accepted and logged.files == {} and logged.version == ""
    (problem,) = logged.problems
    assert problem.startswith("rule set too large to log: its change record would be ")
    assert problem.endswith(
        f"bytes, at most {MAX_RECORD_BYTES}; the rule set in force is unchanged"
    )


def test_a_rejected_change_leaves_out_files_then_problems_saying_how_many() -> None:
    rejected = change({"default.yaml": padded(500_000).replace("rules:", "rulez:", 1)})
    assert not rejected.accepted and rejected.problems
    many = replace(rejected, problems=("x" * 400,) * 5000)
    logged = fit_record(many, limit=600_000)
    assert logged.files == {} and len(logged.to_record()) <= 600_000
    kept = [p for p in logged.problems if p == "x" * 400]
    assert 0 < len(kept) < 5000
    assert logged.problems[-1] == f"… and {5000 - len(kept)} more problem(s), left out of the log"
