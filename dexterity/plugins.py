"""Plugins: user modules that register environments, models, distributions, rewards or presets.

Imported in the main process and in every env worker process; in a worker, a plugin that needs
TensorFlow or Keras is skipped (workers never import them: MuJoCo rendering + TF segfaults).
"""
from __future__ import annotations

import importlib
import importlib.abc
import os
import sys
import traceback
from typing import Any, Sequence

from dexterity.errors import DexterityError


_LEARNER_ONLY = ("tensorflow", "keras")  # never imported in env workers (MuJoCo rendering + TF segfaults)
_SKIPPED_IN_WORKER: set[str] = set()


class _RefuseLearnerImports(importlib.abc.MetaPathFinder):
    """Meta-path finder that makes `import tensorflow` / `import keras` fail (in env workers)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.split(".")[0] in _LEARNER_ONLY:
            raise ImportError(f"{fullname} is not imported in env worker processes", name=fullname)
        return None


def import_plugins(plugins: Sequence[str]) -> None:
    """Import user modules that register environments, models, distributions, rewards or presets.

    Runs in the main process and in every env worker process. Workers never import TensorFlow:
    there, a plugin whose import needs TensorFlow or Keras (a model or distribution plugin) is
    skipped, so env and reward registrations belong in TF-free modules. The current directory
    is searched too. Any other failure becomes a DexterityError naming the plugin and the problem.
    """
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    in_worker = getattr(main_spec, "name", None) == "dexterity.envpool" and not any(
        m in sys.modules for m in _LEARNER_ONLY)
    if plugins and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    for name in plugins:
        if name in _SKIPPED_IN_WORKER:
            continue
        if name.endswith(".py") or "/" in name or os.sep in name:
            dotted = name[:-3] if name.endswith(".py") else name
            raise DexterityError(f"plugin '{name}' is a file path; give the module path instead, "
                                 f"e.g. --plugin {dotted.strip('/').replace('/', '.').replace(os.sep, '.')}")
        guard = _RefuseLearnerImports() if in_worker else None
        if guard is not None:
            sys.meta_path.insert(0, guard)
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if guard is not None and (exc.name or "").split(".")[0] in _LEARNER_ONLY:
                _SKIPPED_IN_WORKER.add(name)  # a learner-side plugin: nothing an env needs
                continue
            if isinstance(exc, ModuleNotFoundError) and exc.name and (name + ".").startswith(exc.name + "."):
                raise DexterityError(f"plugin '{name}' not found: no module named '{exc.name}' (give an importable "
                                     f"module path, e.g. mypackage.models, from the current directory or "
                                     f"$PYTHONPATH)") from exc
            raise DexterityError(f"plugin '{name}' failed to import: {type(exc).__name__}: {exc}") from exc
        except DexterityError as exc:  # e.g. a ConfigError from a registry: already says what is wrong
            raise DexterityError(f"plugin '{name}': {exc}") from exc
        except Exception as exc:  # any failure of a user module is a user error
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
            where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
            raise DexterityError(f"plugin '{name}' failed to import: {type(exc).__name__}: {exc}{where}") from exc
        finally:
            if guard is not None:
                sys.meta_path.remove(guard)
