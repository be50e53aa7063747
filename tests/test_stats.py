"""The one mean ± 95% CI helper: the t quantile for small n, no interval at n = 1."""

from __future__ import annotations

import math
import statistics

import pytest

from metaopt.stats import format_ci, mean_ci95, t_quantile_975


def test_t_quantile_matches_scipy():
    from scipy.special import stdtrit

    for df in [*range(1, 200), 500, 599, 1000, 10_000]:
        assert t_quantile_975(df) == pytest.approx(stdtrit(df, 0.975), abs=1e-6), df
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_small_samples_get_the_wider_t_interval():
    values = [0.1, 0.4, 0.35, 0.8, 0.55]
    mean, ci = mean_ci95(values)
    half_normal = 1.96 * statistics.stdev(values) / math.sqrt(5)
    assert mean == pytest.approx(statistics.mean(values))
    assert ci == pytest.approx(2.776445 * statistics.stdev(values) / math.sqrt(5), rel=1e-6)
    assert ci / half_normal == pytest.approx(1.4166, abs=1e-3)  # the 1.96 interval was ~30% too narrow
    big = [float(i % 7) for i in range(600)]
    assert mean_ci95(big)[1] == pytest.approx(1.9639 * statistics.stdev(big) / math.sqrt(600), rel=1e-4)


def test_one_value_has_no_interval_and_says_so():
    mean, ci = mean_ci95([0.7])
    assert mean == 0.7 and math.isnan(ci)
    assert format_ci(mean, ci, scale=100, unit="%") == "70.00% (no interval: one value)"
    assert all(math.isnan(x) for x in mean_ci95([]))
    assert format_ci(0.5, 0.0123, digits=3) == "0.500 ± 0.012"


def test_evaluation_and_json_use_it(capsys):
    from metaopt.cli._args import print_json
    from metaopt.evaluation import EvalResult
    from metaopt.evaluation import mean_ci95 as reexported

    assert reexported is mean_ci95
    assert "no interval" in str(EvalResult("mse", 0.5, float("nan"), 1, [0.5]))
    print_json({"ci95": float("nan"), "rows": [{"mean": float("inf")}]})
    assert capsys.readouterr().out.strip() == '{"ci95": null, "rows": [{"mean": null}]}'
