"""Task-aware fine-tuning: nested k-per-class subsets, fine-tuning that learns, pooled pre-training,
and the whole comparison from a briefly meta-trained MAML on synthetic classes."""

from __future__ import annotations

import pytest
import torch

from metaopt.algorithms import build_config, get_learner
from metaopt.errors import ConfigError
from metaopt.finetune import finetune_curve, finetune_scores, first_k_per_class, pretrain_pooled, with_new_head
from metaopt.models import default_model
from metaopt.tasks.episodes import EpisodeSampler
from metaopt.trainer import MetaTrainer, TrainConfig


def test_first_k_per_class_is_nested_and_checks_size():
    x = torch.arange(12).float()[:, None]
    y = torch.tensor([0, 1, 2] * 4)
    x1, y1 = first_k_per_class(x, y, 1)
    x2, _ = first_k_per_class(x, y, 2)
    assert y1.tolist() == [0, 1, 2] and set(x1.flatten().tolist()) <= set(x2.flatten().tolist())
    with pytest.raises(ConfigError, match="fewer than 5"):
        first_k_per_class(x, y, 5)


def test_finetuning_learns_and_leaves_the_start_untouched(class_sources):
    ds = class_sources["train"].dataset
    task = EpisodeSampler(ds, (0, 1, 2), ways=3, shots=5, queries=5).fixed_tasks(1, 0)[0]
    torch.manual_seed(0)
    model = default_model((1, 16, 16), 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scores = finetune_scores(model, task.support_x, task.support_y, task.query_x, task.query_y, steps=[1, 30])
    assert scores[1] > 0.8 and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_pooled_pretraining_fits_its_classes_and_new_head_has_the_right_width(class_sources):
    ds = class_sources["train"].dataset
    model = pretrain_pooled(lambda n: default_model((1, 16, 16), n), ds, (0, 1, 2, 3), steps=40, batch=16)
    x = torch.from_numpy(ds.images[ds.labels < 4]).float() / 255
    assert float((model(x).argmax(-1) == torch.as_tensor(ds.labels[ds.labels < 4])).float().mean()) > 0.7
    fresh = with_new_head(model, 2, seed=0)
    assert fresh.head.out_features == 2 and model.head.out_features == 4
    assert torch.equal(fresh.features.blocks[0].conv.weight, model.features.blocks[0].conv.weight)


def test_comparison_from_a_meta_trained_maml(class_sources):
    cls = get_learner("maml")
    torch.manual_seed(0)
    learner = cls(default_model((1, 16, 16), 2), build_config("maml", {"inner_lr": 0.4}), "classification")
    MetaTrainer(learner, class_sources, TrainConfig(iterations=10, meta_batch=4, val_every=10, val_tasks=5),
                progress=False).fit()
    tasks = EpisodeSampler(class_sources["test"].dataset, (10, 11), ways=2, shots=5, queries=5).fixed_tasks(3, 2)
    inits = {"maml": learner.model, "random": default_model((1, 16, 16), 2)}
    curve = finetune_curve(inits, tasks, shots=[1, 5], steps=[1, 10])
    assert set(curve) == {"maml", "random"} and len(curve["maml"][5]) == 3 and len(curve["maml"][5][0]) == 2
    assert all(0 <= a <= 1 for runs in curve["random"].values() for s in runs for a in s)
