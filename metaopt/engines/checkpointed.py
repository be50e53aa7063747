"""Per-step gradient checkpointing of a second-order inner loop (``InnerLoop(checkpoint=True)``).

Second-order MAML keeps, for every inner step, the activations of the support forward pass *and* of
its backward pass (the inner gradient is taken with a graph), so memory grows with the steps times a
network's activations. Here each inner step is one ``torch.autograd.Function``: its forward runs the
step without keeping any graph, and its backward recomputes that one step with the graph and returns
the vector-Jacobian product. What stays alive between steps is only what a step takes in (adapted
tensors, optimiser state, rates): memory grows with the steps times the *parameters*, and the
activations of one step at a time. The price is one more forward and inner backward per step.

Why not ``torch.utils.checkpoint``: its non-reentrant form works through saved-tensor hooks, which
``torch.func.grad`` refuses, and the reentrant form drops the gradient of any tensor a step reads
without taking it as an argument (ANIL's support features, computed from the body outside the loop).
So everything a step reads that needs a meta-gradient is an explicit input of the Function: the
module's tensors, the optimiser state, tensor-valued rates and overrides are handed over by the door
itself (and replaced by detached copies in the recomputation), and anything else the loss or the
gradient transform reads (ANIL's features, Meta-Curvature's matrices) is declared by the learner
through ``InnerLoop.adapt(inputs=...)``. A step that reads an undeclared tensor needing a gradient is
refused with one line when its backward runs, never silently given a zero gradient.

Tasks run one at a time (an ``autograd.Function`` has no ``vmap`` rule here), random draws inside a
step are replayed (the RNG state is saved per step, as ``torch.utils.checkpoint`` does), and a
stateful learned update rule is refused (its recomputation would advance its state twice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.autograd.function import once_differentiable

from metaopt.engines.base import AdaptResult, GradTransform, LearningRates, LossFn, Overrides
from metaopt.engines.functional_module import FunctionalModule
from metaopt.errors import ConfigError

if TYPE_CHECKING:
    from metaopt.inner_loop import InnerLoop

__all__ = ["checkpointed_adapt"]


class _Slot:
    """Where a tensor sat in a nested structure: its index in the flat list of tensors."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _pack(value: Any, flat: list[torch.Tensor]) -> Any:
    """``value`` with every tensor moved to ``flat`` and replaced by its ``_Slot`` (lists, tuples, dicts)."""
    if isinstance(value, torch.Tensor):
        flat.append(value)
        return _Slot(len(flat) - 1)
    if isinstance(value, (list, tuple)):
        return [_pack(v, flat) for v in value]
    if isinstance(value, dict):
        return {k: _pack(v, flat) for k, v in value.items()}
    return value


def _unpack(template: Any, flat: Sequence[torch.Tensor]) -> Any:
    if isinstance(template, _Slot):
        return flat[template.index]
    if isinstance(template, list):
        return [_unpack(v, flat) for v in template]
    if isinstance(template, dict):
        return {k: _unpack(v, flat) for k, v in template.items()}
    return template


@dataclass
class _Step:
    """One inner step as a function of explicit tensors: what the Function runs and re-runs."""

    loop: InnerLoop
    loss_fn: LossFn
    step: int
    grad_transform: GradTransform | None
    template: Any  # {"fast", "state", "lr", "overrides"} with tensors as slots into the substituted inputs
    n_substituted: int
    extras: list[torch.Tensor]  # declared inputs, used as they are (the loss function captured them)
    rng: tuple[torch.Tensor, list[int], list[torch.Tensor]] | None = None
    out_template: Any = field(default=None)

    def run(self, tensors: Sequence[torch.Tensor], *, create_graph: bool) -> tuple[list, dict, torch.Tensor]:
        """The step on ``tensors`` (the substituted inputs): new adapted tensors, new state, support loss."""
        loop = self.loop
        values = _unpack(self.template, tensors)
        fast, positions = values["fast"], loop.positions
        with torch.enable_grad():
            if create_graph:
                adapted = [fast[i] for i in positions]
            else:  # the forward keeps no graph: only the inner gradient's values are needed
                fast = [t.detach() for t in fast]
                adapted = [fast[i].requires_grad_() for i in positions]
            loss = self.loss_fn(FunctionalModule(loop.module, loop.names, fast), self.step)
            grads = torch.autograd.grad(loss, adapted, create_graph=create_graph, allow_unused=True)
        with torch.set_grad_enabled(create_graph):
            grads = list(grads)
            if self.grad_transform is not None:
                grads = list(self.grad_transform(grads))
            new, state = loop.functional_optimizer.update(adapted, grads, values["state"], values["lr"],
                                                          **values["overrides"])
        return new, state, loss.detach()


class _CheckpointedStep(torch.autograd.Function):
    """``(spec, *substituted, *extras) -> (*new adapted and state tensors, loss)``, recomputed in backward."""

    @staticmethod
    def forward(ctx: Any, spec: _Step, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.spec = spec
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*tensors)  # for autograd's check that nothing was changed in place since
        spec.rng = _rng_state(tensors)
        new, state, loss = spec.run(tensors[: spec.n_substituted], create_graph=False)
        flat: list[torch.Tensor] = []
        spec.out_template = _pack({"new": new, "state": state}, flat)
        ctx.mark_non_differentiable(loss)
        return (*(t.detach() for t in flat), loss)

    @staticmethod
    @once_differentiable  # the recomputation starts from detached copies: a third order would be wrong, so refuse it
    def backward(ctx: Any, *grad_outputs: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        spec: _Step = ctx.spec
        saved = ctx.saved_tensors[: spec.n_substituted]
        # The adapted tensors' copies always need a gradient: the inner gradient is taken against them.
        adapted = {spec.template["fast"][i].index for i in spec.loop.positions}
        copies = [t.detach().requires_grad_(t.requires_grad or k in adapted) for k, t in enumerate(saved)]
        cpu, devices, cuda = spec.rng  # type: ignore[misc]
        # A recomputation has no side effects: the RNG streams and the module's buffers (a BatchNorm's
        # running statistics) are as they were before it.
        buffers = [(b, b.clone()) for b in spec.loop.module.buffers()]
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(cpu)
            for device, state in zip(devices, cuda):
                torch.cuda.set_rng_state(state, device)
            new, state, _ = spec.run(copies, create_graph=True)
        outputs: list[torch.Tensor] = []
        _pack({"new": new, "state": state}, outputs)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if g is not None and o.requires_grad]
        wrt = [t for t in (*copies, *spec.extras) if t.requires_grad]
        _check_inputs_declared([o for o, _ in pairs], wrt)
        grads: Sequence[torch.Tensor | None] = [None] * len(wrt)
        if pairs and wrt:
            grads = torch.autograd.grad([o for o, _ in pairs], wrt, [g for _, g in pairs], allow_unused=True)
        with torch.no_grad():  # after the gradient: the recomputed graph may have saved a buffer
            for buffer, value in buffers:
                buffer.copy_(value)
        by_input = iter(grads)
        found = [next(by_input) if t.requires_grad else None for t in (*copies, *spec.extras)]
        return (None, *(g if needed else None for g, needed in zip(found, ctx.needs_input_grad[1:])))


def _rng_state(tensors: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[int], list[torch.Tensor]]:
    """The CPU (and each used GPU's) RNG state, so a recomputed step draws what the step drew."""
    devices = sorted({t.device.index or 0 for t in tensors if t.is_cuda})
    return torch.get_rng_state(), devices, [torch.cuda.get_rng_state(d) for d in devices]


def _check_inputs_declared(outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor]) -> None:
    """Refuse a recomputed step whose graph reaches a tensor needing a gradient that is not an input.

    Its gradient would be lost: ``autograd.grad`` returns gradients for the inputs only. The walk stops
    at the inputs (leaves: their accumulator; others: the node that made them), so an undeclared
    tensor shows up as a parameter the walk reaches beyond them.
    """
    leaves = {id(t) for t in inputs if t.grad_fn is None}
    stops = [t.grad_fn for t in inputs if t.grad_fn is not None]  # kept alive: ids stay unique
    seen = {id(node) for node in stops}
    nodes = [o.grad_fn for o in outputs if o.grad_fn is not None]
    kept = list(nodes)  # every node object visited stays referenced, so no id is reused mid-walk
    while nodes:
        node = nodes.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if variable is not None and id(variable) not in leaves:
            shape = "x".join(str(n) for n in variable.shape) or "scalar"
            raise ConfigError(
                f"inner checkpointing: an inner step reads a tensor ({shape}) that needs a meta-gradient but "
                "was not handed to InnerLoop.adapt(inputs=...); its gradient would be lost, so it is refused")
        for child, _ in node.next_functions:
            if child is not None:
                kept.append(child)
                nodes.append(child)


def checkpointed_adapt(
    loop: InnerLoop,
    loss_fn: LossFn,
    steps: int,
    rates: LearningRates,
    *,
    grad_transform: GradTransform | None,
    after_step: Callable[[Any, int], None] | None,
    overrides: Overrides | None,
    inputs: Sequence[torch.Tensor] = (),
) -> AdaptResult:
    """Second-order adaptation, one checkpointed Function per step (see the module docstring)."""
    module, names, positions = loop.module, loop.names, loop.positions
    fast = list(module.parameters())
    state: Any = loop.functional_optimizer.init([fast[i] for i in positions])
    extras: list[torch.Tensor] = []
    for t in inputs:  # a tensor given twice would get its gradient twice
        if isinstance(t, torch.Tensor) and t.requires_grad and all(t is not e for e in extras):
            extras.append(t)
    losses: list[torch.Tensor] = []
    for step in range(steps):
        flat: list[torch.Tensor] = []
        settings = {k: loop.per_tensor(v, k) for k, v in (overrides(step) if overrides else {}).items()}
        template = _pack({"fast": fast, "state": state, "lr": loop.per_tensor(rates(step)), "overrides": settings},
                         flat)
        spec = _Step(loop, loss_fn, step, grad_transform, template, len(flat), extras)
        *out, loss = _CheckpointedStep.apply(spec, *flat, *extras)
        result = _unpack(spec.out_template, out)
        state = result["state"]
        for i, tensor in zip(positions, result["new"]):
            fast[i] = tensor
        losses.append(loss)
        if after_step is not None:
            after_step(FunctionalModule(module, names, fast), step)
    return AdaptResult(FunctionalModule(module, names, fast), losses)  # type: ignore[arg-type]
