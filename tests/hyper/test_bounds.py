"""Learnable hyperparameters stay in range and reject inconsistent bounds in one line."""

from __future__ import annotations

import math

import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.hyper._bounds import HyperParameter, HyperParameters, check_bounds


@pytest.mark.parametrize(
    ("bounds", "kind", "init", "message"),
    [
        ((1.0, 0.1), "lr", 0.5, "lower 1.0 > upper 0.1"),
        ((0.0, 1.0), "lr", 0.5, "lower bound must be positive"),
        ((-1e-3, 1.0), "weight_decay", 0.1, "lower bound must be positive"),
        ((0.0, 1.0), "momentum", 0.5, "must lie in [0.0, 1.0)"),
        ((1e-3, 1.0), "lr", 2.0, "initial value 2.0 is outside"),
        ((1e-3, 1.0), "beta", 0.5, "unknown hyperparameter kind"),
    ],
)
def test_inconsistent_bounds_are_config_errors(bounds, kind, init, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        check_bounds("x", init, bounds, kind)


def test_log_parametrised_rate_is_positive_and_projected_into_bounds():
    hp = HyperParameter("lr", 0.1, (1e-3, 0.5), "lr")
    assert float(hp().detach()) == pytest.approx(0.1)
    with torch.no_grad():
        hp.raw.fill_(-100.0)  # any raw value still gives a positive rate
    assert float(hp().detach()) > 0
    hp.project_()
    assert float(hp().detach()) == pytest.approx(1e-3)
    with torch.no_grad():
        hp.raw.fill_(5.0)
    hp.project_()
    assert float(hp().detach()) == pytest.approx(0.5)


def test_momentum_is_linear_and_clipped_below_one():
    hp = HyperParameter("m", 0.9, (0.0, 0.99), "momentum", shape=(3,))
    with torch.no_grad():
        hp.raw.copy_(torch.tensor([-0.5, 0.5, 1.5]))
    hp.project_()
    assert hp().tolist() == pytest.approx([0.0, 0.5, 0.99])


def test_scalars_name_every_element():
    hps = HyperParameters({"lr": HyperParameter("lr", 0.1, (1e-3, 1.0), "lr", shape=(2, 2)),
                           "momentum": HyperParameter("m", 0.5, (0.0, 0.9), "momentum")})
    scalars = hps.scalars()
    assert set(scalars) == {"lr.0.0", "lr.0.1", "lr.1.0", "lr.1.1", "momentum"}
    assert math.isclose(scalars["lr.1.0"], 0.1, rel_tol=1e-6)
