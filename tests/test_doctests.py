"""The runnable examples in the docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["schemas.transaction", "detector.monitor", "detector.checks.ks",
           "detector.checks.categorical", "detector.checks.adwin"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
