"""dexterity: biologically plausible networks trained with distributed PPO for dexterous control.

Importing the package registers the Shadow Hand tasks with Gymnasium. It never imports
TensorFlow: environment worker processes import it, and rendering in a process that has
TensorFlow loaded segfaults.
"""
import os as _os

__version__ = "0.1.0"

# quiet, deterministic TensorFlow wherever it is imported later (set before TF's first import)
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

try:
    from dexterity.environments import register_environments as _register
except ImportError:  # environments package not available (partial install)
    _register = None
if _register is not None:
    _register()
