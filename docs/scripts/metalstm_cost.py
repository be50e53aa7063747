"""Time one meta-LSTM training task and one adaptation on a 5-way 1-shot, 28x28 glyph-shaped task.

    OMP_NUM_THREADS=1 python docs/scripts/metalstm_cost.py

Random images (the cost does not depend on their content); Conv4 as built for glyphs (112k weights).
"""

from __future__ import annotations

import time

import torch

from metaopt.algorithms import build_config, get_learner
from metaopt.models import default_model
from metaopt.tasks.base import Task

if __name__ == "__main__":
    torch.set_num_threads(1)
    for hidden in (20, 4):
        torch.manual_seed(0)
        config = build_config("metalstm", {"hidden_size": hidden})
        learner = get_learner("metalstm")(default_model((1, 28, 28), 5), config, "classification")
        task = Task(torch.rand(5, 1, 28, 28), torch.arange(5), torch.rand(25, 1, 28, 28),
                    torch.arange(5).repeat_interleave(5), "classification", 5)
        t0 = time.perf_counter()
        learner.meta_loss(task, 0).backward()
        t1 = time.perf_counter()
        learner.predict(task)
        t2 = time.perf_counter()
        print(f"hidden_size={hidden}: training task forward+backward {t1 - t0:.2f} s, "
              f"adaptation + prediction {t2 - t1:.2f} s")
