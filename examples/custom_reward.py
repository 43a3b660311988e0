"""A custom reward function and reward config for the Shadow Hand reach task (guide: docs/custom-rewards.md).

    python train.py ReachAbsolute-v0 --plugin examples.custom_reward --rcon reach.smooth \\
        --env-kwargs '{"reward_function": "reach_smooth"}'
    python train.py ReachSmooth-v0 --plugin examples.custom_reward          # the same, as a new env id
    python train.py ReachSmooth-v0 --plugin examples.custom_reward --rcon reach.smooth_effortful
    python examples/custom_reward.py --iterations 2       # a short run of ReachSmooth-v0, then an evaluation

`reach_smooth` rewards closeness with a bounded bump per fingertip (exp(-d / scale)) instead of
the linear distance penalty of the built-in `reach` function, plus a success bonus and the usual
effort penalty. TensorFlow-free: this module is imported in the env worker processes, where the
reward is computed.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dexterity.configs.reward_config import get_reward_config, register_reward_config
from dexterity.environments.rewards import register_reward_function


@register_reward_function("reach_smooth")
def reach_smooth(state: dict[str, Any], config: dict[str, Any]) -> float:
    """r = proximity_multiplier * mean_k exp(-d_k / proximity_scale) + success_bonus * success - effort.

    state (from the reach task): fingertip_distances [5] (m), success (bool), force_penalty, tendon_stress.
    """
    distances = np.asarray(state["fingertip_distances"], float)
    proximity = float(np.mean(np.exp(-distances / config["proximity_scale"])))
    effort = (config["force_multiplier"] * float(state["force_penalty"])
              + config["tendon_stress_multiplier"] * float(state["tendon_stress"]))
    return config["proximity_multiplier"] * proximity + config["success_bonus"] * float(state["success"]) - effort


# the reach task itself reads `success_distance`, so start from its default config and add our constants
_SMOOTH = {**get_reward_config("reach.default"), "proximity_multiplier": 1.0, "proximity_scale": 0.05}
register_reward_config("reach.smooth", _SMOOTH, overwrite=True)
register_reward_config("reach.smooth_effortful", {**_SMOOTH, "force_multiplier": 0.05,
                                                  "tendon_stress_multiplier": 0.05}, overwrite=True)

# a new id whose defaults are our function and config; --rcon still picks another config
gym.register("ReachSmooth-v0", entry_point="dexterity.environments.reach:ReachEnv", max_episode_steps=100,
             kwargs={"reward_function": "reach_smooth", "reward_config": "reach.smooth"})


if __name__ == "__main__":
    from _runner import train_and_evaluate  # examples/ is sys.path[0] when run as a script
    train_and_evaluate(__file__, ["ReachSmooth-v0", "--architecture", "simple", "--model", "ffn",
                                  "--workers", "4", "--horizon", "100", "--batch-size", "100", "--processes", "2",
                                  "--iterations", "10"], episodes=2)
