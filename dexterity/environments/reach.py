"""Reach tasks: fingertips to goal positions (ReachAbsolute/Relative) and one-finger FreeReach."""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from dexterity.environments.base import FINGERTIPS, N_HAND_JOINTS, HandEnv, _float_box
from dexterity.errors import EnvironmentError_

_J0_PER_J1 = 0.00805 / 0.00705  # the coupling tendons keep 0.00705*J0 ~= 0.00805*J1


class ReachEnv(HandEnv):
    """All five fingertips to goal positions drawn from random reachable hand poses.

    Observation: somatosensation [25] (5 fingertip touch, 20 actuator forces), proprioception [48],
    goal [15] (ff, mf, rf, lf, th goal positions), asymmetric [30] (fingertip positions, goal - tip).
    Success: every fingertip within `success_distance` of its goal.
    """

    model_file = "reach.xml"
    # the goal markers are drawn from this env's goal when it renders (draw_markers), never kept in
    # the model, so the envs of a process share one model
    shares_model = True
    default_reward_config = "reach.default"
    default_reward_function = "reach"
    goal_spread = 0.7  # goal poses are drawn from this central fraction of each actuator's range
    # The kinematic pose of the drawn targets is not where the position-controlled hand comes to
    # rest (gravity, finite gains, tendons: 1-1.6 cm off per fingertip, so even commanding the goal's
    # own targets succeeded in only 74% of episodes). The goal is where the hand settles after this
    # many seconds under those targets, started from the kinematic pose (within ~2 mm of rest).
    goal_settle_time = 0.2

    def __init__(self, relative_control: bool | str = False, **kwargs: Any):
        super().__init__(relative_control=relative_control, **kwargs)
        self._goal_data = mujoco.MjData(self.model)
        self._target_sites = np.array([self.model.site(f"target{i}").id for i in range(5)], int)
        finger_sites = [self.model.site(f"finger{i}").id for i in range(5)]
        self.model.site_rgba[finger_sites, 3] = 0.0  # hide the fingertip markers
        self.goal = np.zeros((5, 3))
        self.goal_action = np.zeros(self.model.nu)  # absolute action of the pose the goal came from
        self.observation_space = gym.spaces.Dict({
            "somatosensation": _float_box(len(self._touch_adr) + self.model.nu),
            "proprioception": _float_box(2 * N_HAND_JOINTS),
            "goal": _float_box(self._goal_size()),
            "asymmetric": _float_box(30),
        })

    def _goal_size(self) -> int:
        return 15

    def _shown_targets(self) -> np.ndarray:
        """Indices of the target markers a frame shows."""
        return self._target_sites

    def draw_markers(self) -> None:
        """Show this env's goals in the frame about to be drawn. The shared model keeps no env's
        goals: the markers' world positions are written into this env's data (the next physics step
        recomputes them from the model's defaults), and which markers show into the model's colours,
        which every reach env sets before it draws."""
        self.data.site_xpos[self._target_sites] = self.goal
        self.model.site_rgba[self._target_sites, 3] = 0.0
        self.model.site_rgba[self._shown_targets(), 3] = 1.0

    def _sample_pose_tips(self) -> np.ndarray:
        """Draw actuator targets, let the hand settle there; returns [5, 3] fingertip positions."""
        unit = self.np_random.uniform(-self.goal_spread, self.goal_spread, self.model.nu)
        ctrl = self._ctrl_center + self._ctrl_half * unit
        self.goal_action = unit
        d = self._goal_data
        d.qpos[:] = self._initial_qpos
        d.qpos[self._act_qpos] = ctrl
        lo, hi = self.model.jnt_range[self._coupled_qpos].T
        d.qpos[self._coupled_qpos] = np.clip(ctrl[self._coupled_act] * _J0_PER_J1, lo, hi)
        d.qvel[:] = 0.0
        d.ctrl[:] = ctrl
        mujoco.mj_step(self.model, d, nstep=self.physics_steps(self.goal_settle_time))
        return d.site_xpos[self._tip_sites].copy()

    def _reset_task(self) -> None:
        self.goal = self._sample_pose_tips()

    def _distances(self) -> np.ndarray:
        """[5] Euclidean fingertip-to-goal distances (m)."""
        return np.linalg.norm(self.fingertip_positions() - self.goal, axis=1)

    def _evaluate(self) -> tuple[float, bool, bool]:
        distances = self._distances()
        self._success = bool(np.all(distances < self.reward_config["success_distance"]))
        force, stress = self._effort_pieces()
        state = {"fingertip_distances": distances, "success": self._success,
                 "force_penalty": force, "tendon_stress": stress}
        return float(self.reward_function(state, self.reward_config)), False, False

    def _after_reset(self) -> None:
        self._success = bool(np.all(self._distances() < self.reward_config["success_distance"]))

    def _goal_observation(self) -> np.ndarray:
        return self.goal.ravel()

    def _observation(self) -> dict[str, np.ndarray]:
        tips = self.fingertip_positions()
        return {"somatosensation": self._somatosensation(),
                "proprioception": self._proprioception(),
                "goal": self._goal_observation().astype(np.float32),
                "asymmetric": np.concatenate([tips.ravel(), (self.goal - tips).ravel()]).astype(np.float32)}

    def _info(self) -> dict[str, Any]:
        return {"is_success": float(self._success)}

    def state_info(self) -> dict[str, np.ndarray]:
        return {**super().state_info(), "goal": self.goal.copy()}


class FreeReachEnv(ReachEnv):
    """One finger (ff, mf, rf or lf) reaches a goal position; the other fingertips keep away from it.

    `finger=None` draws the finger per episode. goal [7]: goal position (3), one-hot finger (4).
    Success: the reaching fingertip within `success_distance` of the goal.
    """

    default_reward_config = "free_reach.default"
    default_reward_function = "free_reach"
    shares_model = True  # see ReachEnv
    fingers = FINGERTIPS[:4]

    def __init__(self, finger: str | None = None, **kwargs: Any):
        if finger is not None and finger not in self.fingers:
            raise EnvironmentError_(f"finger must be one of {self.fingers} or None, got {finger!r}")
        self.fixed_finger = finger
        self.finger = 0 if finger is None else self.fingers.index(finger)
        super().__init__(**kwargs)
        self._others = np.array([i for i in range(5) if i != self.finger], int)

    def _goal_size(self) -> int:
        return 3 + len(self.fingers)

    def _shown_targets(self) -> np.ndarray:
        return self._target_sites[[self.finger]]

    def _reset_task(self) -> None:
        if self.fixed_finger is None:
            self.finger = int(self.np_random.integers(len(self.fingers)))
        self._others = np.array([i for i in range(5) if i != self.finger], int)
        self.goal = np.repeat(self._sample_pose_tips()[self.finger][None], 5, axis=0)

    def _evaluate(self) -> tuple[float, bool, bool]:
        distances = self._distances()
        target = float(distances[self.finger])
        self._success = target < self.reward_config["success_distance"]
        force, stress = self._effort_pieces()
        state = {"target_distance": target, "other_distances": distances[self._others], "success": self._success,
                 "force_penalty": force, "tendon_stress": stress}
        return float(self.reward_function(state, self.reward_config)), False, False

    def _after_reset(self) -> None:
        self._success = bool(self._distances()[self.finger] < self.reward_config["success_distance"])

    def _goal_observation(self) -> np.ndarray:
        one_hot = np.zeros(len(self.fingers))
        one_hot[self.finger] = 1.0
        return np.concatenate([self.goal[0], one_hot])

    def state_info(self) -> dict[str, np.ndarray]:
        return {**super().state_info(), "finger": np.array(self.finger)}
