"""Reward functions against hand-computed values, and reward config lookup."""
import math

import numpy as np
import pytest

from dexterity.configs import reward_config as rc
from dexterity.environments import rewards
from dexterity.errors import ConfigError


def test_reach_reward_by_hand():
    config = {"distance_multiplier": 1.0, "success_bonus": 0.1, "force_multiplier": 0.5,
              "tendon_stress_multiplier": 2.0}
    state = {"fingertip_distances": np.array([0.01, 0.02, 0.03, 0.04, 0.0]), "success": True,
             "force_penalty": 0.2, "tendon_stress": 0.05}
    # -1 * 0.10 + 0.1 * 1 - 0.5 * 0.2 - 2 * 0.05 = -0.2
    assert rewards.reach_reward(state, config) == pytest.approx(-0.2)
    config.update(proximity_multiplier=0.05, proximity_scale=0.01)
    # + 0.05 * (e^-1 + e^-2 + e^-3 + e^-4 + e^0)
    bonus = 0.05 * (math.exp(-1) + math.exp(-2) + math.exp(-3) + math.exp(-4) + 1.0)
    assert rewards.reach_reward(state, config) == pytest.approx(-0.2 + bonus)


def test_free_reach_reward_by_hand():
    config = {"distance_multiplier": 2.0, "proximity_multiplier": 1.0, "proximity_scale": 0.02, "success_bonus": 0.5,
              "exclusion_distance": 0.04, "exclusion_multiplier": 10.0, "separation_multiplier": 1.0,
              "force_multiplier": 0.0, "tendon_stress_multiplier": 0.0}
    state = {"target_distance": 0.02, "other_distances": np.array([0.01, 0.05, 0.08, 0.04]), "success": False,
             "force_penalty": 1.0, "tendon_stress": 1.0}
    # -2*0.02 = -0.04; exp(-1) = 0.36787944; intrusion 0.03 -> -0.3; clearance mean(0.01,.04,.04,.04)/.04 = 0.8125
    expected = -0.04 + 0.36787944117144233 - 0.3 + 0.8125
    assert rewards.free_reach_reward(state, config) == pytest.approx(expected)


def test_manipulate_reward_by_hand():
    config = rc.get_reward_config("manipulate.default")  # rotation 1, bonus 5, drop 20, no effort terms
    state = {"previous_rotation_distance": 1.0, "rotation_distance": 0.3, "success": True, "dropped": False,
             "force_penalty": 0.5, "tendon_stress": 0.5}
    assert rewards.manipulate_reward(state, config) == pytest.approx(0.7 + 5.0)
    dropped = {**state, "success": False, "dropped": True, "rotation_distance": 1.5}
    assert rewards.manipulate_reward(dropped, config) == pytest.approx(-0.5 - 20.0)
    penalized = rc.get_reward_config("manipulate.penalized_force")  # force 0.1, tendon 0.1
    assert rewards.manipulate_reward(state, penalized) == pytest.approx(5.7 - 0.05 - 0.05)


def test_reward_function_registry():
    assert rewards.get_reward_function("reach") is rewards.reach_reward
    with pytest.raises(ConfigError, match="unknown reward function"):
        rewards.get_reward_function("nope")
    rewards.register_reward_function("test.constant", lambda state, config: 1.0, overwrite=True)
    assert rewards.get_reward_function("test.constant")({}, {}) == 1.0
    with pytest.raises(ConfigError, match="already exists"):
        rewards.register_reward_function("test.constant", lambda state, config: 2.0)


def test_reward_config_lookup_and_errors():
    names = rc.list_reward_configs()
    for name in ("reach.default", "reach.force_punished", "free_reach.default", "free_reach.force_punished",
                 "free_reach_positive_reinforcement.default", "manipulate.default", "manipulate.penalized_force"):
        assert name in names
    config = rc.get_reward_config("manipulate.default")
    config["success_bonus"] = -1.0
    assert rc.get_reward_config("manipulate.default")["success_bonus"] == 5.0  # a deep copy
    with pytest.raises(ConfigError, match="known reward configs: .*manipulate.default"):
        rc.get_reward_config("manipulate.nope")
    rc.register_reward_config("test.mine", {**config, "success_bonus": 2.0}, overwrite=True)
    assert rc.get_reward_config("test.mine")["success_bonus"] == 2.0
    with pytest.raises(ConfigError):
        rc.register_reward_config("test.bad", {"x": [1, 2]})
    merged = rc.resolve_reward_config({"drop_penalty": 1.0}, "manipulate.default")
    assert merged["drop_penalty"] == 1.0 and merged["success_bonus"] == 5.0
    assert math.isclose(rc.resolve_reward_config(None, "reach.default")["success_distance"], 0.02)
