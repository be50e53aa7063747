"""The synthetic user population: seeded, shared catalogue, stars in 1..5, users that differ."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.preferences import PreferenceUsers


def test_users_are_seeded_tasks_over_one_catalogue():
    users = PreferenceUsers(5, 20)
    a, b = users.fixed_tasks(3, 2), PreferenceUsers(5, 20).fixed_tasks(3, 2)
    assert all(torch.equal(x.support_x, y.support_x) and torch.equal(x.query_y, y.query_y) for x, y in zip(a, b))
    task = a[0]
    assert task.support_x.shape == (5, 6) and task.query_y.shape == (20, 1) and task.kind == "regression"
    catalogue = {tuple(row) for row in users.items.round(5).tolist()}
    assert all(tuple(row) in catalogue for row in task.query_x.numpy().round(5).tolist())
    stars = torch.cat([t.query_y for t in users.fixed_tasks(50, 3)])
    assert stars.min() >= 1 and stars.max() <= 5 and len(stars.unique()) == 5


def test_users_have_individual_tastes():
    users = PreferenceUsers(5, 195)
    # Rank correlation of two users' ratings over the same items is far from 1 on average.
    rng = np.random.default_rng(0)
    corr = []
    for _ in range(20):
        t1, t2 = users.sample(rng), users.sample(rng)
        r1 = dict(zip(map(tuple, t1.query_x.tolist()), t1.query_y.flatten().tolist()))
        common = [(r1[k], v) for k, v in zip(map(tuple, t2.query_x.tolist()), t2.query_y.flatten().tolist())
                  if k in r1]
        corr.append(np.corrcoef(np.array(common).T)[0, 1])
    assert np.nanmean(corr) < 0.7


def test_bad_sizes_are_refused():
    with pytest.raises(ConfigError, match="shots"):
        PreferenceUsers(150, 100)
