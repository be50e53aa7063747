"""The benchmark scripts are not a package; each test module names its script in ``BENCHMARK`` and gets a fresh
copy of it from the ``bench`` fixture, so one test's monkeypatching cannot leak into the next."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(request: pytest.FixtureRequest) -> ModuleType:
    name = request.module.BENCHMARK
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module
