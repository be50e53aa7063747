from __future__ import annotations

import pytest

from metaopt.errors import ConfigError
from metaopt.tasks.benchmarks import available_benchmarks, get_benchmark


def test_registry_lists_and_resolves_names():
    assert {"sinusoid", "glyphs", "fashion-mnist", "omniglot"} <= set(available_benchmarks())
    assert get_benchmark("sinusoid").kind == "regression"
    assert get_benchmark("hf:someone/some-dataset").name == "hf:someone/some-dataset"


def test_unknown_benchmark_names_the_value():
    with pytest.raises(ConfigError, match="'mnist-9000'"):
        get_benchmark("mnist-9000")


def test_omniglot_without_a_folder_says_what_is_missing():
    with pytest.raises(ConfigError, match="--data-root"):
        get_benchmark("omniglot").sources(ways=5, shots=1, queries=5)


def test_bad_episode_shapes_for_sinusoid():
    with pytest.raises(ConfigError, match="shots"):
        get_benchmark("sinusoid").sources(ways=None, shots=0, queries=5)
