"""The speed benchmark compares like with like: same weights, same loss, same gradients, same update."""

from __future__ import annotations

import torch

BENCHMARK = "protonet_speed"  # loaded by the `bench` fixture (conftest.py)


def test_metaopt_and_plain_protonet_take_the_same_step(bench):
    torch.manual_seed(0)
    learner = bench.ProtoNet(bench.default_model((1, 28, 28), 3, head=False), bench.build_config("protonet"),
                             "classification")
    plain = bench.plain_conv4()
    bench.copy_weights(learner, plain)
    task = bench.random_episode(3, 2, 2, seed=0)
    assert bench.check_same_step(learner, plain, task, 3, 2) < 1e-6
    ours = torch.optim.Adam(learner.parameters(), lr=1e-3)
    theirs = torch.optim.Adam(plain.parameters(), lr=1e-3)
    learner.meta_step([task], ours, 0)
    bench.plain_step(plain, theirs, task, 3, 2)
    convs = [m for m in plain if isinstance(m, torch.nn.Conv2d)]
    for block, conv in zip(learner.model.features.blocks, convs):
        torch.testing.assert_close(block.conv.weight, conv.weight)
