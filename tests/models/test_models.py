from __future__ import annotations

import torch

from metaopt.models import MLP, Conv4, default_model


def test_shapes_for_28_and_84_pixel_inputs():
    assert Conv4(1, 5, image_size=28)(torch.randn(3, 1, 28, 28)).shape == (3, 5)
    assert Conv4(3, 20, image_size=84)(torch.randn(2, 3, 84, 84)).shape == (2, 20)
    assert Conv4(3, 5, image_size=84).feature_dim == 64 * 5 * 5
    assert MLP()(torch.randn(7, 1)).shape == (7, 1)
    assert isinstance(default_model((1,), 1), MLP) and isinstance(default_model((1, 28, 28), 5), Conv4)


def test_batchnorm_uses_the_batch_it_is_given_never_running_statistics():
    torch.manual_seed(0)
    model = Conv4(1, 5, image_size=28)
    assert not any("running" in name for name, _ in model.named_buffers())
    x = torch.randn(10, 1, 28, 28)
    model.train()
    train_out = model(x)
    model.eval()  # mode must not matter: no statistics from meta-training leak into a test task
    torch.testing.assert_close(model(x), train_out)
    # scores of a task's batch depend only on that batch
    torch.testing.assert_close(model(x[:5]), model(torch.cat([x[:5]]))[:5])


def test_per_step_norm_rows_change_the_output():
    torch.manual_seed(0)
    model = Conv4(1, 5, image_size=28, norm_steps=3)
    with torch.no_grad():
        model.features.blocks[0].norm.weight[1].mul_(3.0)
    x = torch.randn(4, 1, 28, 28)
    assert not torch.allclose(model(x, step=0), model(x, step=1))
    torch.testing.assert_close(model(x, step=5), model(x, step=2))  # steps past the last reuse it


def test_headless_models_return_features_and_unpooled_blocks_keep_the_map():
    torch.manual_seed(0)
    bare = default_model((1, 28, 28), 5, head=False)
    assert bare(torch.randn(3, 1, 28, 28)).shape == (3, 64) and not any("head" in n for n, _ in bare.named_parameters())
    relation = Conv4(1, 5, image_size=28, head=False, pool_blocks=2)
    assert relation.feature_shape == (64, 7, 7)
    assert relation(torch.randn(2, 1, 28, 28)).shape == (2, 64 * 7 * 7)
    assert default_model((4,), 2, head=False)(torch.randn(5, 4)).shape == (5, 40)
