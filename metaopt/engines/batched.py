"""The batched engine: inner loops as pure ``torch.func`` functions, ``vmap``-ed over a meta-batch.

Each inner step is ``torch.func.grad`` of the support loss with respect to explicit tensors, followed
by a pure optimiser update (``functional_optim``), so nothing is patched or rebuilt per task and the
whole loop batches under ``vmap``: the tasks of a meta-batch run as one wide computation instead of
one after the other. The outer ``backward()`` differentiates through it all (second order), exactly as
through ``higher``'s tape; the tests hold the two engines to 1e-10 relative in float64.

First-order steps (FOMAML, Reptile, evaluation) take their inner gradient under ``no_grad``: it is a
constant of the meta-gradient, so no second-order graph is built for it at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.func import grad, vmap

from metaopt.engines.base import AdaptResult, Engine, GradTransform, LearningRates, LossFn, Overrides, UpdateRule
from metaopt.engines.functional_module import FunctionalModule
from metaopt.errors import ConfigError
from metaopt.models.conv4 import batch_norm_from_ops

if TYPE_CHECKING:
    from metaopt.inner_loop import InnerLoop
    from metaopt.tasks.base import Task

__all__ = ["BatchedEngine", "stackable"]

_TASK_TENSORS = ("support_x", "support_y", "query_x", "query_y")


def stackable(tasks: Sequence[Task]) -> bool:
    """Whether the tasks are episodes of one shape (what ``vmap`` needs)."""
    from metaopt.tasks.base import Task

    first = tasks[0]
    if not all(isinstance(t, Task) for t in tasks):
        return False
    return all(
        t.kind == first.kind and t.n_way == first.n_way and t.shots == first.shots
        and all(getattr(t, f).shape == getattr(first, f).shape and getattr(t, f).dtype == getattr(first, f).dtype
                for f in _TASK_TENSORS)
        for t in tasks[1:]
    )


class BatchedEngine(Engine):
    name = "batched"
    batches = True

    def adapt(
        self,
        loop: InnerLoop,
        loss_fn: LossFn,
        steps: int,
        rates: LearningRates,
        *,
        first_order: bool,
        differentiable: bool,
        grad_transform: GradTransform | None,
        after_step: Callable[[Any, int], None] | None,
        overrides: Overrides | None,
        update_rule: UpdateRule | None,
    ) -> AdaptResult:
        module, names, positions = loop.module, loop.names, loop.positions
        fast = list(module.parameters())
        optimizer = loop.functional_optimizer
        state = optimizer.init([fast[i] for i in positions])
        second_order = differentiable and not first_order
        losses: list[torch.Tensor] = []
        for step in range(steps):
            current = [fast[i] for i in positions]

            def support_loss(adapted: list[torch.Tensor], step: int = step) -> tuple[torch.Tensor, torch.Tensor]:
                full = list(fast)
                for i, tensor in zip(positions, adapted):
                    full[i] = tensor
                loss = loss_fn(FunctionalModule(module, names, full), step)
                return loss, loss.detach()

            if second_order:
                grads, loss = grad(support_loss, has_aux=True)(current)
            else:
                # The gradient is a constant here: take it without recording anything for the outer graph.
                with torch.no_grad():
                    grads, loss = grad(support_loss, has_aux=True)([p.detach() for p in current])
            losses.append(loss)
            with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
                grads = list(grads)
                if grad_transform is not None:
                    grads = list(grad_transform(grads))
                if update_rule is not None:
                    new = update_rule(current, grads, loss, step)
                    if len(new) != len(current):
                        raise ConfigError(f"update rule returned {len(new)} tensors for {len(current)} adapted tensors")
                else:
                    extra = {k: loop.per_tensor(v, k) for k, v in (overrides(step) if overrides else {}).items()}
                    new, state = optimizer.update(current, grads, state, loop.per_tensor(rates(step)), **extra)
            if not differentiable:
                new = [p.detach() for p in new]
            for i, tensor in zip(positions, new):
                fast[i] = tensor
            if after_step is not None:
                after_step(FunctionalModule(module, names, fast), step)
        return AdaptResult(FunctionalModule(module, names, fast), losses)  # type: ignore[arg-type]

    def map_tasks(self, fn: Callable[[Task], Any], tasks: Sequence[Task]) -> Any:
        if len(tasks) == 1 or not stackable(tasks):
            return super().map_tasks(fn, tasks)
        from metaopt.tasks.base import Task

        first = tasks[0]

        def one(*tensors: torch.Tensor) -> Any:
            return fn(Task(*tensors, kind=first.kind, n_way=first.n_way, shots=first.shots))

        stacked = [torch.stack([getattr(t, f) for t in tasks]) for f in _TASK_TENSORS]
        # randomness="error": a learner that samples inside a task would get other draws than one
        # after the other, so such learners are not batched (they say so) rather than silently differ.
        if torch.compiler.is_compiling():  # compiled BatchNorm takes the explicit ops anyway (no context to trace)
            return vmap(one, randomness="error")(*stacked)
        with batch_norm_from_ops():
            return vmap(one, randomness="error")(*stacked)
