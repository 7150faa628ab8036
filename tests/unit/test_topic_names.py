"""Topic names are spelled in one place, citybrain/config/topics.py: no other module of the
packages writes one as a string, nor calls ``.topic(...)`` with a literal."""

from __future__ import annotations

import ast
from pathlib import Path

from citybrain.config.topics import TOPICS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("citybrain", "streams", "web", "feeds", "alerts", "geo", "benchmarks")
HOME = ROOT / "citybrain" / "config" / "topics.py"
DOTTED = {t for t in TOPICS if "." in t}  # "alerts" and "rules" are ordinary words too


def spelled(path: Path, root: Path = ROOT) -> list[str]:
    """Where ``path`` spells a topic name: ``file:line: what`` (file relative to ``root``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in DOTTED and id(node) not in docstrings:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name == "topic" and isinstance(first, ast.Constant | ast.JoinedStr):
                found.append(f"{path.relative_to(root)}:{node.lineno}: .topic(literal)")
    return found


def test_no_module_but_the_topics_module_spells_a_topic_name() -> None:
    found = [
        where
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != HOME
        for where in spelled(path)
    ]
    assert found == []


def test_the_check_sees_a_spelled_name(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        '"""cells.ingest"""\nX = "cells.ingest"\ndef f(k):\n    return k.topic("rules")\n'
    )
    found = [w.split(": ", 1)[1] for w in spelled(probe, tmp_path)]
    assert found == ["'cells.ingest'", ".topic(literal)"]  # the docstring is not a spelling
