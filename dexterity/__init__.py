"""dexterity: biologically plausible networks trained with distributed PPO for dexterous control.

Importing the package registers the Shadow Hand tasks with Gymnasium. It never imports
TensorFlow: environment worker processes import it, and rendering in a process that has
TensorFlow loaded segfaults.
"""
__version__ = "0.1.0"

try:
    from dexterity.environments import register_environments as _register
except ImportError:  # environments package not available (partial install)
    _register = None
if _register is not None:
    _register()
