"""Does metaopt's ProtoNet cost more than a plain PyTorch ProtoNet loop? (issue #3)

Times one Conv4 ProtoNet training episode (5-way 5-shot 15-query, 28x28: forward, backward, Adam
step) through ``ProtoNet.meta_step`` and through a hand-written loop with its own Conv4, started
from the same weights and fed the same episode. Repetitions alternate between the two (so load
on a shared machine hits both alike) after a warm-up, and the medians are compared. Before
timing, one step of each from the same weights must give the same loss and gradients.

    OMP_NUM_THREADS=1 python benchmarks/protonet_speed.py [--reps 200] [--warmup 20] [--device cuda] [--json]

On a GPU each repetition ends with ``torch.cuda.synchronize()``, so it times the kernels, not their launch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from metaopt.algorithms import build_config
from metaopt.algorithms.protonet import ProtoNet
from metaopt.models import default_model
from metaopt.tasks.base import Task
from metaopt.testing import exact_gpu_arithmetic, random_episode


def plain_conv4() -> nn.Sequential:
    """Conv4 as a PyTorch user writes it (BatchNorm on batch statistics, as metaopt's backbone)."""
    layers: list[nn.Module] = []
    for cin in (1, 64, 64, 64):
        layers += [nn.Conv2d(cin, 64, 3, padding=1), nn.BatchNorm2d(64, track_running_stats=False), nn.ReLU(),
                   nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.Flatten())


def copy_weights(learner: ProtoNet, plain: nn.Sequential) -> None:
    """Give the plain network metaopt's initial weights (metaopt keeps BatchNorm affine rows per step)."""
    convs = [m for m in plain if isinstance(m, nn.Conv2d)]
    norms = [m for m in plain if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for block, conv, norm in zip(learner.model.features.blocks, convs, norms):
            conv.weight.copy_(block.conv.weight)
            conv.bias.copy_(block.conv.bias)
            norm.weight.copy_(block.norm.weight[0])
            norm.bias.copy_(block.norm.bias[0])


def plain_loss(net: nn.Module, task: Task, ways: int, shots: int) -> torch.Tensor:
    z = net(torch.cat([task.support_x, task.query_x]))
    support, query = z[: ways * shots], z[ways * shots :]
    prototypes = support.view(ways, shots, -1).mean(1)  # support is ordered class by class
    distances = ((query.unsqueeze(1) - prototypes.unsqueeze(0)) ** 2).sum(-1)
    return F.cross_entropy(-distances, task.query_y)


def plain_step(net: nn.Module, optimizer: torch.optim.Optimizer, task: Task, ways: int, shots: int) -> None:
    optimizer.zero_grad(set_to_none=True)
    plain_loss(net, task, ways, shots).backward()
    optimizer.step()


def check_same_step(learner: ProtoNet, plain: nn.Sequential, task: Task, ways: int, shots: int) -> float:
    """Largest gradient difference after one backward of each; raises if loss or gradients differ."""
    learner.zero_grad()
    plain.zero_grad()
    ours = learner.meta_loss(task, 0)
    ours.backward()
    theirs = plain_loss(plain, task, ways, shots)
    theirs.backward()
    torch.testing.assert_close(ours, theirs)
    convs = [m for m in plain if isinstance(m, nn.Conv2d)]
    pairs = [(block.conv.weight.grad, conv.weight.grad) for block, conv in zip(learner.model.features.blocks, convs)]
    pairs += [(block.conv.bias.grad, conv.bias.grad) for block, conv in zip(learner.model.features.blocks, convs)]
    # On a GPU the two sides' BatchNorm kernels sum in different orders: allow rounding noise on the
    # scale of the largest gradient (conv biases ahead of BatchNorm have zero gradient up to that noise).
    scale = max(float(b.abs().max()) for _, b in pairs)
    rtol, atol = (1e-4, 1e-6) if ours.device.type == "cpu" else (1e-3, 1e-4 * scale)
    worst = 0.0
    for a, b in pairs:
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
        worst = max(worst, float((a - b).abs().max()))
    learner.zero_grad()
    plain.zero_grad()
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="timed episodes per side (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed episodes per side first (default 20)")
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--queries", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("--against-self", action="store_true",
                        help="null check: time metaopt against a second identical metaopt learner instead of the "
                        "plain loop, to see how far from 1.0 this machine's noise moves the ratio")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    torch.manual_seed(0)
    learner = ProtoNet(default_model((1, 28, 28), args.ways, head=False), build_config("protonet"), "classification")
    plain = plain_conv4()
    copy_weights(learner, plain)
    learner.to(device)
    plain.to(device)
    task = random_episode(args.ways, args.shots, args.queries, seed=0).to(device)
    # The check compares arithmetic: on a GPU, TF32 and non-deterministic backward kernels are off for it
    # (the timing below runs both sides with PyTorch's defaults).
    with exact_gpu_arithmetic():
        worst = check_same_step(learner, plain, task, args.ways, args.shots)

    ours_opt = torch.optim.Adam(learner.parameters(), lr=1e-3)
    plain_opt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    if args.against_self:
        twin = ProtoNet(default_model((1, 28, 28), args.ways, head=False), build_config("protonet"), "classification")
        twin.load_state_dict(learner.state_dict())
        twin.to(device)
        twin_opt = torch.optim.Adam(twin.parameters(), lr=1e-3)

        def other(i: int) -> None:
            twin.meta_step([task], twin_opt, i)
    else:

        def other(i: int) -> None:
            plain_step(plain, plain_opt, task, args.ways, args.shots)
    for i in range(args.warmup):
        learner.meta_step([task], ours_opt, i)
        other(i)
    sync()
    ours_t, plain_t = [], []
    for i in range(args.reps):
        # Alternate which side goes first so neither always follows the other's cache state.
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            start = time.perf_counter()
            if side == 0:
                learner.meta_step([task], ours_opt, i)
            else:
                other(i)
            sync()
            (ours_t if side == 0 else plain_t).append(time.perf_counter() - start)
    ours_ms, plain_ms = statistics.median(ours_t) * 1e3, statistics.median(plain_t) * 1e3
    ratio = ours_ms / plain_ms
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} CPU thread(s)"
    print(f"episode {args.ways}-way {args.shots}-shot {args.queries}-query, Conv4, {where}, "
          f"median of {args.reps} after {args.warmup} warm-up")
    print(f"same loss and gradients: yes (largest conv gradient difference {worst:.2e})")
    best = min(ours_t) / min(plain_t)
    print(f"metaopt ProtoNet.meta_step: {ours_ms:.2f} ms (fastest {min(ours_t) * 1e3:.2f} ms)")
    label = "metaopt twin (null check):" if args.against_self else "plain PyTorch loop:"
    print(f"{label:<27} {plain_ms:.2f} ms (fastest {min(plain_t) * 1e3:.2f} ms)")
    print(f"ratio metaopt / plain:      {ratio:.3f} (of the fastest repetitions: {best:.3f})")
    if args.json:
        print(json.dumps({"metaopt_ms": ours_ms, "plain_ms": plain_ms, "ratio": ratio, "ratio_of_fastest": best,
                          "reps": args.reps, "max_grad_diff": worst, "device": str(device)}))


if __name__ == "__main__":
    main()
