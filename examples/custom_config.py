"""Hyperparameter configs in code and a preset selectable with `--pcon` (guide: docs/configs.md).

    python train.py CartPole-v1 --plugin examples.custom_config --pcon cartpole-quick
    python train.py CartPole-v1 --plugin examples.custom_config --pcon cartpole-quick --epochs 8  # flags win
    python examples/custom_config.py                 # prints the configs, trains the preset, evaluates
    python examples/custom_config.py --iterations 2  # any train.py flag is passed on

TensorFlow-free: a preset plugin costs nothing in the env worker processes.
"""
from __future__ import annotations

from dexterity.configs.hp_config import derive_config, get_preset, make_config, register_preset

# a preset is a dict of changes on top of a base preset; it is validated here, at import
register_preset("cartpole-quick", {"workers": 4, "horizon": 128, "epochs": 4, "batch_size": 128, "lr_pi": 1e-3,
                                   "lr_schedule": "linear", "iterations": 25}, base="discrete")


def show_configs() -> None:
    """make_config: defaults plus changes; derive_config: a validated variant of an existing config."""
    config = make_config(workers=4, horizon=64, batch_size=64)
    recurrent = derive_config(config, {"model": "gru", "tbptt": 16})
    preset = get_preset("cartpole-quick")
    changed = {k: v for k, v in preset.items() if v != make_config()[k]}
    print(f"make_config(workers=4, ...): {len(config)} parameters, batch_size {config['batch_size']}")
    print(f"derive_config(..., model='gru'): model {recurrent['model']}, tbptt {recurrent['tbptt']}")
    print(f"preset cartpole-quick differs from the defaults in: {changed}")


if __name__ == "__main__":
    from _runner import train_and_evaluate  # examples/ is sys.path[0] when run as a script
    show_configs()
    train_and_evaluate(__file__, ["CartPole-v1", "--pcon", "cartpole-quick", "--processes", "2"])
