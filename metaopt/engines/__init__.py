"""The engines behind the inner-loop door (``metaopt.inner_loop``): ``higher`` and ``batched``."""

from __future__ import annotations

from metaopt.engines.base import AdaptResult, Engine
from metaopt.errors import ConfigError
from metaopt.typing import ENGINE_CHOICES

__all__ = ["ENGINES", "ENGINE_CHOICES", "Engine", "AdaptResult", "get_engine", "resolve_engine_name",
           "check_inner_checkpoint", "check_compile"]

ENGINES: tuple[str, ...] = ENGINE_CHOICES[1:]

_INSTANCES: dict[str, Engine] = {}


def resolve_engine_name(name: str) -> str:
    if name not in ENGINE_CHOICES:
        raise ConfigError(f"unknown engine {name!r}; choose from {', '.join(ENGINE_CHOICES)}")
    return "batched" if name == "auto" else name


def check_inner_checkpoint(on: bool, engine: str) -> None:
    """Check ``engine``'s name, and refuse inner checkpointing on ``higher`` (it re-runs steps with the batched
    engine's functional optimisers)."""
    if resolve_engine_name(engine) == "higher" and on:
        raise ConfigError("--inner-checkpoint recomputes steps with the batched engine's functional optimisers; "
                          "use --engine batched or auto, not higher")


def check_compile(on: bool, engine: str) -> None:
    """Check ``engine``'s name, and refuse ``--compile`` on ``higher`` (it compiles the batched engine's vmapped
    meta-batch)."""
    if resolve_engine_name(engine) == "higher" and on:
        raise ConfigError("--compile compiles the batched engine's vmapped meta-batch; use --engine batched "
                          "or auto, not higher")


def get_engine(name: str) -> Engine:
    """The engine called ``name`` (``auto`` is ``batched``); ``higher`` is imported only when asked for."""
    name = resolve_engine_name(name)
    if name not in _INSTANCES:
        if name == "higher":
            from metaopt.engines.higher_engine import HigherEngine

            _INSTANCES[name] = HigherEngine()
        else:
            from metaopt.engines.batched import BatchedEngine

            _INSTANCES[name] = BatchedEngine()
    return _INSTANCES[name]
