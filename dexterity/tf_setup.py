"""Import TensorFlow with dexterity's settings (quiet logs, CPU forcing, determinism, GPU memory growth).

Import TensorFlow through `tf_setup.tensorflow()` in code that trains; never in environment code.
"""
from __future__ import annotations

import os
import sys
from typing import Any

_configured = False


def tensorflow(cpu: bool = False, deterministic: bool = True, threads: int | None = None) -> Any:
    """The configured `tensorflow` module. `cpu` hides GPUs (must come before the first TF import);
    `threads` sets both thread pools' sizes (see `devices.cpu_threads`)."""
    global _configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if cpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    tf = _import_without_sklearn()
    if not _configured:
        _configured = True
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                pass
        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:  # the runtime already started: keep its pools
                pass
        if deterministic:
            tf.config.experimental.enable_op_determinism()
    return tf


def _import_without_sklearn() -> Any:
    """`import tensorflow` without Keras importing scikit-learn (and scipy.stats) for its optional
    scikit-learn wrappers: a third to a half of the import's time on a 2-core machine
    (benchmarks/startup.py, docs/benchmark.md). Keras guards that import, so it sees scikit-learn
    as absent; afterwards `import sklearn` works as usual (the analysis code uses it), but Keras's
    own wrappers (`keras.wrappers.SKLearnClassifier`, ...) stay unavailable in this process, which
    dexterity never uses. Skipped when TensorFlow or scikit-learn is already imported."""
    if "tensorflow" in sys.modules or "sklearn" in sys.modules:
        import tensorflow as tf
        return tf
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` raise ImportError
    try:
        import tensorflow as tf
    finally:
        if sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]
    return tf
