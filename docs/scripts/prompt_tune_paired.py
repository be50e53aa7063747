"""Paired differences (mean ± 95% CI over the same test tasks) between the tuned learned selector of
docs/scripts/prompt_tune.sh and the baselines scored on the same tasks (the compare line in that script).

    python docs/scripts/prompt_tune_paired.py [runs/prompt6-tune]
"""

import json
import sys

import optuna

from metaopt.evaluation import mean_ci95

folder = sys.argv[1] if len(sys.argv) > 1 else "runs/prompt6-tune"
attrs = optuna.load_study(study_name="prompt-wordnet-learned", storage=f"sqlite:///{folder}/optuna.db").user_attrs
baselines = json.load(open(f"{folder}/baselines.json"))["per_task"]
rows = {"learned (defaults)": attrs["default_test_scores"],
        **{m: baselines[f"{m}@{0 if m == 'zero' else 4}"] for m in ("zero", "random", "knn", "bm25")}}
for name, scores in rows.items():
    mean, ci = mean_ci95([t - s for t, s in zip(attrs["best_test_scores"], scores, strict=True)])
    print(f"tuned learned - {name:<20} {100 * mean:+6.1f} ± {100 * ci:4.1f} points ({len(scores)} tasks)")
