"""Physics profiles of the hand tasks: selection, settings, exact sensor skipping, fidelity against
`reference`, and the profile an agent was saved with."""
import json

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import dexterity  # noqa: F401  (registers the tasks)
from dexterity.agent import checkpoint as ckpt
from dexterity.environments import fidelity, pinned_env_kwargs, saved_env_kwargs
from dexterity.environments.base import asset_path
from dexterity.environments.physics import DEFAULT_PROFILE, PROFILES, apply_profile, get_profile, step_physics
from dexterity.errors import EnvironmentError_

FRICTIONLOSS = int(mujoco.mjtDisableBit.mjDSBL_FRICTIONLOSS)


def test_profiles_by_name_or_dict():
    assert get_profile(None) is PROFILES[DEFAULT_PROFILE]
    assert get_profile("reference").timestep == 0.002 and get_profile("reference").integrator == "euler"
    custom = get_profile({"integrator": "implicitfast", "timestep": 0.004, "iterations": 7})
    assert (custom.name, custom.timestep, custom.iterations, custom.joint_friction) == ("custom", 0.004, 7, True)


@pytest.mark.parametrize("spec, message", [
    ("quick", "unknown physics profile 'quick'"), ({"timestep": 0.0}, "timestep"), ({"timestep": 0.1}, "timestep"),
    ({"integrator": "verlet"}, "integrator"), ({"iterations": 0}, "iterations"), ({"substeps": 3}, "unknown field"),
    ({"joint_friction": "no"}, "joint_friction"), (3, "profile name or a dict")])
def test_bad_profiles_are_refused_with_one_clear_message(spec, message):
    with pytest.raises(EnvironmentError_, match=message):
        get_profile(spec)


def test_apply_profile_sets_the_solver_and_restores_reference():
    model = mujoco.MjModel.from_xml_path(asset_path("manipulate_block_touch_sensors.xml"))
    file_opt = (model.opt.integrator, model.opt.timestep, model.opt.iterations, model.opt.ls_iterations)
    apply_profile(model, get_profile("fastest"))
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST and model.opt.timestep == 0.01
    assert (model.opt.iterations, model.opt.ls_iterations) == (3, 5) and model.opt.disableflags & FRICTIONLOSS
    apply_profile(model, get_profile("reference"))  # the model files' own settings again
    assert (model.opt.integrator, model.opt.timestep) == file_opt[:2] and not model.opt.disableflags & FRICTIONLOSS
    assert file_opt == (mujoco.mjtIntegrator.mjINT_EULER, 0.002, 20, 50)


@pytest.mark.parametrize("kwargs, substeps, period", [
    ({"physics": "reference"}, 20, 0.04), ({"physics": "fastest"}, 4, 0.04), ({"physics": "fast"}, 8, 0.04),
    ({"physics": "fastest", "control_period": 0.08}, 8, 0.08), ({"physics": "reference", "substeps": 5}, 5, 0.01)])
def test_env_step_length_follows_control_period(kwargs, substeps, period):
    env = gym.make("ReachAbsolute-v0", **kwargs).unwrapped
    assert env.substeps == substeps and env.control_period == pytest.approx(period)
    env.reset(seed=0)
    before = env.data.time
    env.step(np.zeros(20, np.float32))
    assert env.data.time - before == pytest.approx(period)


@pytest.mark.parametrize("kwargs", [{"control_period": 0.001}, {"control_period": "fast"}, {"substeps": 0},
                                    {"physics": "slowest"}])
def test_bad_step_settings_are_refused(kwargs):
    with pytest.raises(EnvironmentError_):
        gym.make("ManipulateBlock-v0", **kwargs)


def test_sensors_computed_once_per_env_step_give_the_same_state_and_readings():
    model = mujoco.MjModel.from_xml_path(asset_path("manipulate_block_touch_sensors.xml"))
    plain, skipping = mujoco.MjData(model), mujoco.MjData(model)
    rng = np.random.default_rng(0)
    for _ in range(10):
        ctrl = rng.uniform(*model.actuator_ctrlrange.T)
        plain.ctrl[:] = skipping.ctrl[:] = ctrl
        mujoco.mj_step(model, plain, nstep=20)
        step_physics(model, skipping, 20)
    assert model.opt.disableflags == 0  # the sensor flag is restored
    np.testing.assert_array_equal(skipping.qpos, plain.qpos)
    np.testing.assert_array_equal(skipping.sensordata, plain.sensordata)
    assert np.abs(plain.sensordata).sum() > 0  # the block touches the hand: readings are not all zero


# ---- fidelity of the default profile against reference (tolerances in fidelity.TOLERANCES) ----------

def test_block_rests_on_the_still_hand_as_under_reference():
    tol = fidelity.TOLERANCES
    ref, fast = fidelity.rest_drift("reference"), fidelity.rest_drift(DEFAULT_PROFILE)
    assert fast["finite"] and fast["rest_position_m"] < 0.02  # it stays on the palm
    assert abs(fast["rest_position_m"] - ref["rest_position_m"]) <= tol["rest_position_diff_m"]
    assert abs(fast["rest_rotation_rad"] - ref["rest_rotation_rad"]) <= tol["rest_rotation_diff_rad"]


def test_joints_track_targets_with_the_reference_steady_state_error():
    ref, fast = fidelity.tracking_error("reference"), fidelity.tracking_error(DEFAULT_PROFILE)
    assert 0.05 < ref.mean() < 0.5  # the position servos do not reach their targets exactly (gravity, gains)
    assert abs(fast.mean() - ref.mean()) <= fidelity.TOLERANCES["tracking_mean_diff_rad"]
    assert np.abs(fast.mean(0) - ref.mean(0)).max() <= fidelity.TOLERANCES["tracking_joint_diff_rad"]


def test_fingertip_paths_follow_reference_for_one_second():
    tol = fidelity.TOLERANCES
    free = fidelity.trajectory_gap(DEFAULT_PROFILE, env_id="ReachAbsolute-v0")
    block = fidelity.trajectory_gap(DEFAULT_PROFILE)
    assert free.mean() <= tol["free_gap_m"] and block.mean() <= tol["block_gap_m"]
    # the measure can fail: a much coarser simulation (Euler at 20 ms) is far off
    coarse = fidelity.trajectory_gap({"integrator": "euler", "timestep": 0.02}, sequences=2, env_id="ReachAbsolute-v0")
    assert coarse.mean() > tol["free_gap_m"]


def test_no_instability_under_random_actions():
    stable = fidelity.stability(DEFAULT_PROFILE, steps=10_000)  # 100k in benchmarks/hand_physics.py --profiles
    assert stable["nonfinite"] == 0 and stable["warnings"] == 0, stable
    assert stable["max_joint_speed"] <= fidelity.TOLERANCES["max_joint_speed"]
    assert stable["max_block_speed"] <= fidelity.TOLERANCES["max_block_speed"]


# ---- the profile saved with an agent --------------------------------------------------------------

def test_new_agents_pin_the_default_and_old_ones_keep_reference(tmp_path):
    assert pinned_env_kwargs("ManipulateBlock-v0", {}) == {"physics": DEFAULT_PROFILE, "goal_timeout": None}
    assert pinned_env_kwargs("ReachAbsolute-v0", {"physics": "fast"}) == {"physics": "fast"}
    assert pinned_env_kwargs("CartPole-v1", {}) == {}
    (tmp_path / "agent.json").write_text(json.dumps({"env_id": "ManipulateBlock-v0", "config": {}, "iteration": 0,
                                                     "frames": 0, "env_kwargs": {"relative_goal": True}}))
    info = ckpt.read_info(tmp_path)  # an agent saved before profiles and the 8 s goal timeout
    assert info["env_kwargs"] == {"physics": "reference", "goal_timeout": 100, "relative_goal": True}
    env = gym.make("ManipulateBlock-v0", **info["env_kwargs"]).unwrapped
    assert (env.substeps, env.physics.timestep, env.goal_timeout) == (20, 0.002, 100)
    assert saved_env_kwargs("ManipulateBlock-v0", pinned_env_kwargs("ManipulateBlock-v0", {}))["physics"] \
        == DEFAULT_PROFILE
