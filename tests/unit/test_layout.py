"""The package layout holds (README, "Layout"): no import cycles between the project's
modules. The layers and the I/O-free core are checked by ``lint-imports`` in the test
command (contracts in pyproject.toml)."""

from __future__ import annotations

import grimp

PACKAGES = ("citybrain", "streams", "web", "feeds", "alerts", "geo")


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = grimp.build_graph(*PACKAGES)
    cycles = sorted(
        {
            tuple(sorted((a, b)))
            for a in graph.modules
            for b in graph.find_modules_directly_imported_by(a)
            if b in graph.modules and graph.chain_exists(importer=b, imported=a)
        }
    )
    assert cycles == []
