"""Devices: every learner trains, checkpoints and evaluates wherever its weights are put.

On a machine with a CUDA GPU the same tests run on ``cuda`` too, and the CUDA meta-gradient is
checked against the CPU one; on a CPU-only machine those cases are skipped.
"""

from __future__ import annotations

import pytest
import torch

from metaopt.algorithms import available_learners, build_config, get_learner
from metaopt.device import resolve_device
from metaopt.errors import ConfigError
from metaopt.models import default_model
from metaopt.testing import exact_gpu_arithmetic, run_cli
from metaopt.trainer import MetaTrainer, TrainConfig

HAS_CUDA = torch.cuda.is_available()
CLASSIFIERS = [n for n in available_learners() if "classification" in get_learner(n).kinds]
# Every classifier on the GPU; on the CPU (which the conformance suite covers learner by learner) one
# learner of each family is enough to check that the device plumbing leaves CPU runs as they were.
ON_CPU = ("maml", "mamlpp", "protonet", "snail")
CASES = [pytest.param(name, "cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU here"))
         for name in CLASSIFIERS] + [(name, "cpu") for name in ON_CPU]
# One inner step and the smallest meta-LSTM keep the 16 x 2 cases cheap; the device path is the same.
SMALL = {"metalstm": {"inner_steps": 1, "hidden_size": 2}, "mamlpp": {"inner_steps": 1}, "taml": {"inner_steps": 1},
         "reptile": {"inner_steps": 1}, "abml": {"inner_steps": 1, "samples": 1, "eval_samples": 2}}


def _learner(name: str, seed: int = 0):
    cls = get_learner(name)
    config = build_config(name, SMALL.get(name))
    torch.manual_seed(seed)
    return cls(default_model((1, 16, 16), 2, **cls.model_options(config)), config, "classification")


def test_resolve_device_names_and_rejects():
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == "cuda" if HAS_CUDA else resolve_device("auto").type in ("cpu", "mps")
    for bad in ("gpu", "tpu:0", "xla"):
        with pytest.raises(ConfigError, match=bad):
            resolve_device(bad)
    with pytest.raises(ConfigError, match="cuda:99"):
        resolve_device("cuda:99")


@pytest.mark.skipif(HAS_CUDA, reason="checks the message of a machine without CUDA")
def test_cli_refuses_a_missing_gpu_with_one_line(capsys):
    code, _, err = run_cli(["train", "--algorithm", "maml", "--benchmark", "sinusoid", "--device", "cuda"], capsys)
    assert code == 2
    assert err.strip().splitlines() == ["metaopt: error: device 'cuda' is not available: "
                                                 "this torch build has no CUDA"]
    from metaopt.tuning import TuneConfig

    with pytest.raises(ConfigError, match="cuda"):
        TuneConfig(benchmark="sinusoid", trials=1, device="cuda").validate()


@pytest.mark.parametrize(("name", "device"), CASES)
def test_trains_checkpoints_and_evaluates_on(device, name, class_sources, tmp_path):
    learner = _learner(name)
    config = TrainConfig(iterations=2, meta_batch=2, val_every=2, val_tasks=4)
    trainer = MetaTrainer(learner, class_sources, config, out_dir=tmp_path, progress=False, device=device)
    assert all(p.device.type == device for p in learner.parameters())
    state = trainer.fit().state
    assert state.best is not None and 0.0 <= state.best <= 1.0
    result = trainer.evaluate("test", 4, progress=False)
    assert result.n_tasks == 4 and result.diverged == 0

    # The checkpoint written on ``device`` resumes and evaluates on the CPU (and the other way round).
    back = MetaTrainer(_learner(name, seed=1), class_sources, config, out_dir=tmp_path, progress=False, device="cpu")
    assert back.resume()
    for key, value in learner.state_dict().items():
        assert torch.equal(back.learner.state_dict()[key], value.cpu()), key
    # Same weights; on a GPU, float reductions in another order may flip a near-tie prediction or two.
    tolerance = 0.0 if device == "cpu" else 0.1
    assert back.evaluate("test", 4, progress=False).mean == pytest.approx(result.mean, abs=tolerance)


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU here")
@pytest.mark.parametrize("name", ["maml", "metasgd", "protonet", "relation"])
def test_cuda_meta_gradient_matches_cpu(name, class_sources):
    # PyTorch's GPU convolutions default to TF32 (a 10-bit mantissa) and to non-deterministic
    # backward kernels; both are turned off here so what is compared is metaopt's arithmetic.
    tasks = class_sources["train"].fixed_tasks(2, 3)
    grads = {}
    with exact_gpu_arithmetic():
        for device in ("cpu", "cuda"):
            learner = _learner(name).to(device)
            loss = sum(learner.meta_loss(task.to(device), 0) for task in tasks)
            loss.backward()
            grads[device] = [p.grad.detach().cpu() for p in learner.parameters() if p.grad is not None]
    assert len(grads["cpu"]) == len(grads["cuda"]) > 0
    # Absolute tolerance on the scale of the largest gradient: some entries are zero in exact arithmetic
    # (a conv bias ahead of BatchNorm) and differ only by rounding noise; a missing or wrong term would
    # differ on the scale of the gradient itself.
    scale = max(float(g.abs().max()) for g in grads["cpu"])
    for cpu, cuda in zip(grads["cpu"], grads["cuda"]):
        torch.testing.assert_close(cuda, cpu, rtol=1e-3, atol=1e-4 * scale)


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU here")
def test_rl_learners_stay_on_the_cpu():
    from metaopt.runs import RunConfig, build_run

    run = build_run(RunConfig("rl2", "bandit", ways=3, shots=10, train={"iterations": 1}))
    with pytest.raises(ConfigError, match="CPU only"):
        run.trainer(progress=False, device="cuda")
