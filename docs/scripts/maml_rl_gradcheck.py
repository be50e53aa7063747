"""Print how far each MAML-RL meta-gradient estimator's exact expectation is from the analytic meta-gradient
on tests/algorithms/test_maml_rl_gradients.py's one-step two-armed bandit (float64; no sampling noise).

    python docs/scripts/maml_rl_gradcheck.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "algorithms"))
import test_maml_rl_gradients as check  # noqa: E402

for label, config in (("exact", {"estimator": "exact"}), ("dice", {"estimator": "dice"}),
                      ("first-order", {"estimator": "exact", "first_order": True})):
    learner = check._learner(**config)
    reference = torch.autograd.grad(check.exact_objective(learner.model), list(learner.model.parameters()))
    gap = max(float((g - w).abs().max()) for g, w in zip(check.expected_estimate(learner), reference))
    print(f"{label:<12} max |E[estimate] - dF/dtheta| = {gap:.3g}   (max |dF/dtheta| = "
          f"{max(float(w.abs().max()) for w in reference):.3g})")
for magic in (True, False):
    expected, exact = check._inner_hessian(magic)
    name = "DiCE" if magic else "REINFORCE"
    print(f"inner Hessian, {name}: max |E[H] - H| = {float((expected - exact).abs().max()):.3g}")
