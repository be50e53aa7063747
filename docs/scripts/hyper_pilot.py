"""Pilot for the issue #5 comparison: the gradient methods' own settings (hyperoptimiser step,
horizon, HD's beta), chosen on seed 100, which the published comparison (seeds 0-2) never uses.

    OMP_NUM_THREADS=1 nice -n 5 python docs/scripts/hyper_pilot.py
"""

from __future__ import annotations

import itertools
import json

import torch

from metaopt.hyper.ift import IFTConfig
from metaopt.hyper.problems import load_problem
from metaopt.hyper.runner import run_hd, run_ift, run_unrolled
from metaopt.hyper.unrolled import UnrolledConfig

SEED, STEPS = 100, 500
SPACE = {"lr_bounds": (1e-3, 1.0), "weight_decay_bounds": (1e-6, 0.1), "momentum_bounds": (0.0, 0.99)}
START = {"lr": 0.05, "weight_decay": 1e-4, "momentum": 0.5}

torch.set_num_threads(1)
problem = load_problem("digits", seed=0)
rows = []
for hyper_lr, horizon in itertools.product((0.05, 0.1, 0.2), (10, 25, 50, 100)):
    r = run_unrolled(problem, UnrolledConfig(**START, **SPACE, horizon=horizon, hyper_lr=hyper_lr), steps=STEPS,
                     seed=SEED)
    rows.append({"method": "unrolled", "hyper_lr": hyper_lr, "horizon": horizon, "val_loss": r.scores["val_loss"]})
for hyper_lr in (0.1, 0.3):
    r = run_ift(problem, IFTConfig(weight_decay=START["weight_decay"], lr=START["lr"], momentum=START["momentum"],
                                   weight_decay_bounds=SPACE["weight_decay_bounds"], hyper_lr=hyper_lr,
                                   neumann_terms=10), steps=STEPS, seed=SEED)
    rows.append({"method": "ift", "hyper_lr": hyper_lr, "val_loss": r.scores["val_loss"]})
for optimizer, hyper_lr in itertools.product(("sgd", "adam"), (0.02, 0.05, 0.1)):
    r = run_hd(problem, optimizer=optimizer, lr=START["lr"] if optimizer == "sgd" else 1e-3,
               momentum=START["momentum"], weight_decay=START["weight_decay"], hyper_lr=hyper_lr, steps=STEPS,
               seed=SEED)
    rows.append({"method": f"hd-{optimizer}", "hyper_lr": hyper_lr, "val_loss": r.scores["val_loss"],
                 "final_lr": r.hyperparameters["lr"]})
for row in rows:
    print(json.dumps(row))
