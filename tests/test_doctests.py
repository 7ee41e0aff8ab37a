"""The runnable examples in the docstrings stay true: every module that has one is run."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "producer", "detector", "trainer", "demo")
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    if ">>> " in path.read_text() and path.name != "__main__.py")


def test_the_examples_are_found() -> None:
    assert {"schemas.transaction", "detector.drift.monitor", "detector.drift.checks.ks"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
