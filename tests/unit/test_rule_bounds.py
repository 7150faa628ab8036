"""The bounds on the work a rule set may cause its checker: each one, just past its limit,
gives its own clear problem (at the place that went over), and just within it, none;
the command line applies the same bounds."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

from typer.testing import CliRunner

from alerts.rules.bounds import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILES,
    MAX_NODES,
    MAX_POLYGON_POSITIONS,
    MAX_RULES,
    MAX_RULESET_BYTES,
)
from alerts.rules.file import (
    DEFAULT_RULES,
    check_rule_files,
    check_rule_text,
    check_rule_texts,
    read_rule_texts,
)
from alerts.rules.spec import RuleProblem
from citybrain.cli.main import app

ONE = """\
  - id: t.r{i}
    metric: density
    enter: 2.15
    exit: 1.08
    desks: [110]
    message: {{zh: "密度 {{density:.2f}}"}}
"""


def rules(n: int, start: int = 0, head: str = "") -> str:
    """A file of ``n`` valid rules t.r<start> …, ``head`` written before ``rules:``."""
    return head + "rules:\n" + "".join(ONE.format(i=i) for i in range(start, start + n))


def with_key(key: str, value: str) -> str:
    """One valid rule with ``key: value`` added."""
    return rules(1) + f"    {key}: {value}\n"


def messages(problems: list[RuleProblem]) -> list[str]:
    return [p.message for p in problems]


def alias_bomb(levels: int = 9) -> str:
    """A few hundred bytes that expand to 9^levels values."""
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(levels - 1):
        prev, name = chr(97 + i), chr(98 + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join([*lines, f"rules: *{chr(97 + levels - 1)}"]) + "\n"


def test_an_alias_bomb_is_refused_at_the_value_budget_quickly() -> None:
    started = time.monotonic()
    problems = check_rule_texts({"bomb.yaml": alias_bomb()})
    took = time.monotonic() - started
    assert [(p.file, p.line) for p in problems] == [("bomb.yaml", 1)]
    assert problems[0].message == (
        f"more than {MAX_NODES} YAML values in the rule set, aliases expanded "
        "(an alias expanding too far?)"
    )
    assert took < 1.0, f"{took:.2f} s"


def test_the_value_budget_is_the_whole_sets_not_each_files() -> None:
    # ~30,000 values each: either file alone is within the budget, both are not.
    big = "x-big: &big [" + ", ".join(["1"] * 100) + "]\n"
    big += "x-bigger: &bigger [" + ", ".join(["*big"] * 50) + "]\n"
    big += "x-all: [" + ", ".join(["*bigger"] * 6) + "]\n"
    first, second = rules(1, 0, big), rules(1, 1, big)
    assert check_rule_texts({"a.yaml": first}) == []
    problems = check_rule_texts({"a.yaml": first, "b.yaml": second})
    assert [p.file for p in problems] == ["b.yaml"]
    assert problems[0].message.startswith(f"more than {MAX_NODES} YAML values in the rule set")


def test_alias_uses_are_counted() -> None:
    head = "x-one: &one 1\nx-many: [" + ", ".join(["*one"] * MAX_ALIASES) + "]\n"
    assert check_rule_text(rules(1, 0, head))[1] == []
    head = head.replace("[*one", "[*one, *one")
    _, problems = check_rule_text(rules(1, 0, head))
    assert messages(problems) == [f"more than {MAX_ALIASES} aliases (*name) in one file"]
    assert (problems[0].line, problems[0].column) == (2, 10 + 6 * MAX_ALIASES)


def test_nesting_is_bounded_while_reading_even_far_past_the_recursion_limit() -> None:
    assert check_rule_text(rules(1, 0, "x-deep: " + "[" * 30 + "]" * 30 + "\n"))[1] == []
    for levels in (MAX_DEPTH, 100_000):
        text = "x-deep: " + "[" * levels + "]" * levels + "\n" + rules(1)
        _, problems = check_rule_text(text)
        assert messages(problems) == [f"nested more than {MAX_DEPTH} levels deep"], levels


def test_the_rule_count_is_bounded_across_files() -> None:
    half = MAX_RULES // 2
    assert check_rule_texts({"a.yaml": rules(half), "b.yaml": rules(half, half)}) == []
    problems = check_rule_texts({"a.yaml": rules(half), "b.yaml": rules(half + 1, half)})
    assert messages(problems) == [
        f"more than {MAX_RULES} rules in the rule set; the rest are not checked"
    ]
    assert (problems[0].file, problems[0].line) == ("b.yaml", 2 + 6 * half)


def test_the_file_count_and_bytes_are_bounded() -> None:
    files = {f"f{i:02d}.yaml": rules(1, i) for i in range(MAX_FILES)}
    assert check_rule_texts(files) == []
    files["zz.yaml"] = rules(1, 99)
    assert messages(check_rule_texts(files)) == [
        f"{MAX_FILES + 1} rule files; a rule set has at most {MAX_FILES}"
    ]
    padded = rules(1) + "# " + "x" * MAX_RULESET_BYTES + "\n"
    (problem,) = check_rule_texts({"big.yaml": padded})
    assert re.fullmatch(rf"rule set of \d+ bytes; at most {MAX_RULESET_BYTES}", problem.message)


def test_durations_are_bounded_to_seven_days() -> None:
    assert check_rule_text(with_key("cooldown", "168h"))[1] == []
    assert check_rule_text(with_key("escalate", "{after: 10079m60s, severity: critical}"))[1] == []
    for written in ("169h", "10080m1s", "1" + "0" * 30 + "s", "9" * 400 + "s"):
        for key, value in (
            ("cooldown", written),
            ("dwell", f"{{enter: {written}}}"),
            ("escalate", f"{{after: {written}, severity: critical}}"),
        ):
            _, problems = check_rule_text(with_key(key, value))
            (message,) = messages(problems)
            assert message.endswith("is longer than 7 days (168h), the most a rule may wait")
            assert len(message) < 120, message  # a 400-digit duration is shown cut


def test_polygon_positions_are_bounded() -> None:
    def circle(n: int) -> str:
        """A ring of ``n`` positions (the last repeats the first) around a small circle."""
        pts = [
            (math.cos(2 * math.pi * i / (n - 1)), math.sin(2 * math.pi * i / (n - 1)))
            for i in range(n - 1)
        ]
        ring = [(113.1 + 0.01 * x, 23.0 + 0.01 * y) for x, y in [*pts, pts[0]]]
        return "[[" + ", ".join(f"[{lon:.6f}, {lat:.6f}]" for lon, lat in ring) + "]]"

    assert check_rule_text(with_key("scope", f"{{polygon: {circle(100)}}}"))[1] == []
    _, problems = check_rule_text(with_key("scope", f"{{polygon: {circle(101)}}}"))
    assert messages(problems) == [
        f"polygon of 101 positions; at most {MAX_POLYGON_POSITIONS} "
        "(draw the area coarser, or split the rule)"
    ]


def test_the_command_line_applies_the_same_bounds(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(alias_bomb(), encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "check", str(tmp_path / "bomb.yaml")])
    assert result.exit_code == 1
    assert f"bomb.yaml:1:8: more than {MAX_NODES} YAML values in the rule set" in result.output

    many = tmp_path / "many"
    many.mkdir()
    for i in range(MAX_FILES + 1):
        (many / f"f{i:02d}.yaml").write_text(rules(1, i), encoding="utf-8")
    texts, problems = read_rule_texts([many])
    assert len(texts) == MAX_FILES
    assert [(Path(p.file).name, p.message) for p in problems] == [
        ("f20.yaml", f"{MAX_FILES + 1} rule files; a rule set has at most {MAX_FILES}")
    ]

    huge = tmp_path / "huge.yaml"
    huge.write_text(rules(1) + "# " + "x" * MAX_RULESET_BYTES + "\n", encoding="utf-8")
    (problem,) = check_rule_files([DEFAULT_RULES, huge])
    assert (Path(problem.file).name, problem.message) == (
        "huge.yaml",
        f"not read: the rule set is over {MAX_RULESET_BYTES} bytes with this file",
    )
