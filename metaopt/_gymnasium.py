"""Registers metaopt's environments with Gymnasium without importing it: ``import metaopt`` stays fast.

Gymnasium 0.26-0.29 found plugins through a ``gymnasium.envs`` entry point; 1.0 removed that loader
(metaopt's ``rl`` extra asks for ``gymnasium>=1.0``), so ``gymnasium.make`` only knows ids that some
imported module registered. Importing gymnasium in ``import metaopt`` would cost it ~0.1 s and would
need gymnasium installed, so registration happens once gymnasium is imported, whichever comes first:
at once if it already is, else right after its own import, by a one-shot finder on ``sys.meta_path``
(the post-import hook of PEP 369, which was withdrawn from the standard library). Nothing metaopt
defines is imported until an environment is made: the entry points are strings.

``gymnasium.make("metaopt:metaopt/Nav2D-v0")`` (Gymnasium's ``module:id`` form) works without an
``import metaopt`` of one's own.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["ENV_IDS", "register_envs", "register_when_imported"]

_MODULE = "metaopt.tasks.gym_envs"
ENV_IDS: dict[str, str] = {"metaopt/Nav2D-v0": "Nav2D", "metaopt/Bandit-v0": "Bandit",
                           "metaopt/GridWorld-v0": "GridWorld"}


def register_envs() -> None:
    """Register the ids with an imported gymnasium (again: a no-op)."""
    gymnasium = sys.modules["gymnasium"]
    if int(gymnasium.__version__.split(".")[0]) < 1:  # no vector_entry_point before 1.0
        return
    for env_id, name in ENV_IDS.items():
        if env_id not in gymnasium.envs.registry:
            gymnasium.register(env_id, entry_point=f"{_MODULE}:{name}",
                               vector_entry_point=f"{_MODULE}:{name}VectorEnv")


class _Loader(importlib.abc.Loader):
    """Runs gymnasium's own loader, then registers."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # the module keeps its real loader (importlib.resources and reloads ask it)
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        register_envs()


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)  # one shot, and the search below must not find this finder again
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def register_when_imported() -> None:
    """Register now if gymnasium is imported, else once it is (nothing happens if it never is)."""
    if "gymnasium" in sys.modules:
        register_envs()
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
