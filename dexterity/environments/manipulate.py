"""In-hand reorientation of a block to goal orientations (ManipulateBlock, -Discrete, -Visual).

A new goal is drawn on each success. The episode terminates when the block drops or after
`max_goals` consecutive goals; it is truncated after `goal_timeout` steps without a goal (default:
the steps of 8 s, Dactyl's and AngoraPy's time per goal).
Goals are uniform on SO(3) unless `goal_angle` bounds their rotation from the block's current
orientation; `curriculum=True` then widens that bound as the agent succeeds (see GoalCurriculum).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from dexterity.environments.base import N_HAND_JOINTS, HandEnv, _float_box
from dexterity.environments.curriculum import GoalCurriculum
from dexterity.environments.rotations import (canonical, quat_angle, quat_conjugate, quat_from_axis_angle,
                                              quat_multiply, quat_to_matrix6, random_quat, random_rotation_within)
from dexterity.errors import EnvironmentError_


class ManipulateBlockEnv(HandEnv):
    """Reorient the block lying on the palm to a goal orientation drawn uniformly from SO(3).

    Observation: vision [7] (block position, canonical quaternion: the object state a visual system
    would report), somatosensation [112] (92 touch sensors, 20 actuator forces), proprioception [48],
    goal [4] (goal quaternion), asymmetric [32] (block pose and velocities, rotation to goal, fingertips).
    Success: rotation distance to the goal below `success_distance` radians.

    goal_angle: None (goals uniform on SO(3), the full task) or the largest rotation (rad, <= pi)
        from the block's current orientation to a new goal; such goals are at least `success_distance`
        away (never reached when drawn), so goal_angle=pi is the full task without its 0.3% of free goals.
    curriculum: start at `goal_angle` and widen it by `curriculum_step` after each window of
        `curriculum_window` goal attempts that reached at least `curriculum_threshold` of its goals.
    curriculum_mix: with the curriculum, the fraction of new goals drawn from the full task (uniform
        on SO(3)) instead of within the bound; attempts at those goals do not count in its windows.
    relative_goal: the goal sense is [8]: the goal quaternion and the rotation still to do (world frame).
    orientation: "quaternion" (canonical, w >= 0: [4]) or "matrix" (the rotation matrix's first two
        columns: [6], continuous where a canonical quaternion flips sign) for the block's and the
        goal's orientations in the vision and goal senses (vision [9], goal [6] or [12]).
    object_velocity: the vision sense also reports the block's linear and angular velocity [6] (what
        motion-sensitive visual areas report), so a feed-forward policy sees the block's motion.
    `info["goal_angle"]` reports the bound in force when goals are bounded.
    """

    model_file = "manipulate_block_touch_sensors.xml"
    default_reward_config = "manipulate.default"
    default_reward_function = "manipulate"
    touch_prefix = "robot0:TS_"
    camera = {"lookat": (1.0, 0.92, 0.2), "distance": 0.45, "azimuth": 90.0, "elevation": -45.0}
    target_offset = np.array([-0.12, 0.0, 0.05])  # where the (non-colliding) goal block is shown

    goal_seconds = 8.0  # time per goal when goal_timeout is not given
    shares_model = True  # only read while stepping (the goal block is a free joint moved via qpos)

    def __init__(self, max_goals: int = 50, goal_timeout: int | None = None, drop_height: float = 0.12,
                 goal_angle: float | None = None, curriculum: bool = False, curriculum_step: float = 0.2,
                 curriculum_window: int = 10, curriculum_threshold: float = 0.5, curriculum_mix: float = 0.0,
                 relative_goal: bool = False, orientation: str = "quaternion", object_velocity: bool = False,
                 **kwargs: Any):
        self.max_goals = int(max_goals)
        self.drop_height = float(drop_height)
        if not isinstance(relative_goal, bool):
            raise EnvironmentError_(f"relative_goal must be true or false, got {relative_goal!r}")
        self.relative_goal = relative_goal
        if orientation not in ("quaternion", "matrix"):
            raise EnvironmentError_(f"orientation must be 'quaternion' or 'matrix', got {orientation!r}")
        if not isinstance(object_velocity, bool):
            raise EnvironmentError_(f"object_velocity must be true or false, got {object_velocity!r}")
        self.orientation, self.object_velocity = orientation, object_velocity
        super().__init__(**kwargs)
        if goal_timeout is None:
            goal_timeout = int(round(self.goal_seconds / self.control_period))
        if isinstance(goal_timeout, bool) or not isinstance(goal_timeout, (int, np.integer)) or goal_timeout < 1:
            raise EnvironmentError_(f"goal_timeout must be a number of env steps >= 1 (or null: 8 s), got {goal_timeout!r}")
        self.goal_timeout = int(goal_timeout)
        self.goal_angle, self.curriculum = _goal_bounds(goal_angle, curriculum, curriculum_step, curriculum_window,
                                                        curriculum_threshold, self.reward_config["success_distance"])
        self.curriculum_mix = _real("curriculum_mix", curriculum_mix, 0.0, 1.0, low_open=False)
        self._goal_counts = True  # whether the current goal's attempt counts in the curriculum's window
        m = self.model
        obj, target = m.joint("object:joint"), m.joint("target:joint")
        self._obj_q, self._obj_v = int(m.jnt_qposadr[obj.id]), int(m.jnt_dofadr[obj.id])
        self._tgt_q, self._tgt_v = int(m.jnt_qposadr[target.id]), int(m.jnt_dofadr[target.id])
        m.body_gravcomp[m.body("target").id] = 1.0  # the goal display block floats
        self.goal = np.array([1.0, 0.0, 0.0, 0.0])
        self.consecutive_goals = 0
        self._steps_since_goal = 0
        self._distance = 0.0
        self._success = False
        self.observation_space = gym.spaces.Dict(self._observation_spaces())

    def _observation_spaces(self) -> dict[str, gym.Space]:
        turn = 4 if self.orientation == "quaternion" else 6
        return {"vision": _float_box(3 + turn + (6 if self.object_velocity else 0)),
                "somatosensation": _float_box(len(self._touch_adr) + self.model.nu),
                "proprioception": _float_box(2 * N_HAND_JOINTS),
                "goal": _float_box(2 * turn if self.relative_goal else turn),
                "asymmetric": _float_box(32)}

    # ---- task state ---------------------------------------------------------------------------
    def object_position(self) -> np.ndarray:
        return self.data.qpos[self._obj_q:self._obj_q + 3]

    def object_quaternion(self) -> np.ndarray:
        return self.data.qpos[self._obj_q + 3:self._obj_q + 7]

    def set_scene(self, joint_angles: np.ndarray, block_position: np.ndarray, block_quaternion: np.ndarray) -> None:
        """Pose the hand (joint angles [24]) and the block (position [3], quaternion [4]) at rest,
        kinematics computed (for rendering scenes, e.g. pretraining data); the task state is untouched."""
        self.data.qpos[:N_HAND_JOINTS] = joint_angles
        self.data.qpos[self._obj_q:self._obj_q + 3] = block_position
        self.data.qpos[self._obj_q + 3:self._obj_q + 7] = block_quaternion
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def current_goal_angle(self) -> float:
        """The bound on the rotation to new goals now in force (rad; pi: goals uniform on SO(3))."""
        if self.curriculum is not None:
            return self.curriculum.angle
        return np.pi if self.goal_angle is None else self.goal_angle

    def get_training_state(self) -> dict[str, float] | None:
        """Learning progress kept across episodes and saved with the agent: the curriculum's angle."""
        return None if self.curriculum is None else {"goal_angle": self.curriculum.angle}

    def set_training_state(self, state: dict[str, float] | None) -> None:
        """Restore `get_training_state()` (when resuming a saved agent); None or no curriculum: no-op."""
        if self.curriculum is not None and state and "goal_angle" in state:
            self.curriculum.resume_at(float(state["goal_angle"]))

    def _new_goal(self) -> None:
        """Draw a goal orientation and show it on the floating target block."""
        self._goal_counts = not (self.curriculum is not None and self.curriculum_mix > 0.0
                                 and self.np_random.uniform() < self.curriculum_mix)
        if self.goal_angle is None or not self._goal_counts:  # the full task, or a curriculum's mixed-in goal
            self.goal = random_quat(self.np_random)
        else:
            turn = random_rotation_within(self.np_random, self.current_goal_angle(),
                                          self.reward_config["success_distance"])
            self.goal = canonical(quat_multiply(turn, self.object_quaternion()))
        q = self.data.qpos
        q[self._tgt_q:self._tgt_q + 3] = self._initial_qpos[self._obj_q:self._obj_q + 3] + self.target_offset
        q[self._tgt_q + 3:self._tgt_q + 7] = self.goal
        self.data.qvel[self._tgt_v:self._tgt_v + 6] = 0.0

    def _reset_task(self) -> None:
        """Block in its resting place turned by a random angle about the vertical; a first goal."""
        yaw = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), self.np_random.uniform(-np.pi, np.pi))
        start = self._initial_qpos[self._obj_q + 3:self._obj_q + 7]
        self.data.qpos[self._obj_q + 3:self._obj_q + 7] = quat_multiply(yaw, start)
        self._new_goal()
        self.consecutive_goals = 0
        self._steps_since_goal = 0
        self._success = False

    def _after_reset(self) -> None:
        self._distance = quat_angle(self.object_quaternion(), self.goal)

    def _evaluate(self) -> tuple[float, bool, bool]:
        previous = self._distance
        distance = quat_angle(self.object_quaternion(), self.goal)
        success = distance < self.reward_config["success_distance"]
        dropped = bool(self.data.qpos[self._obj_q + 2] < self.drop_height)
        force, stress = self._effort_pieces()
        state = {"previous_rotation_distance": previous, "rotation_distance": distance, "success": success,
                 "dropped": dropped, "force_penalty": force, "tendon_stress": stress}
        reward = float(self.reward_function(state, self.reward_config))
        self._success = bool(success)
        self._steps_since_goal += 1
        timed_out = self._steps_since_goal >= self.goal_timeout
        if self.curriculum is not None and self._goal_counts and (success or dropped or timed_out):
            self.curriculum.record(success)
        if success:
            self.consecutive_goals += 1
            self._steps_since_goal = 0
            self._new_goal()
            mujoco.mj_kinematics(self.model, self.data)  # show the new target
            distance = quat_angle(self.object_quaternion(), self.goal)
        self._distance = distance
        terminated = dropped or self.consecutive_goals >= self.max_goals
        truncated = not terminated and self._steps_since_goal >= self.goal_timeout
        return reward, terminated, truncated

    # ---- observation --------------------------------------------------------------------------
    def _object_state(self) -> np.ndarray:
        """[7] block position (m) and canonical quaternion."""
        return np.concatenate([self.object_position(), canonical(self.object_quaternion())])

    def _asymmetric(self, object_state: np.ndarray) -> np.ndarray:
        """[32] position 3, quaternion 4 (`object_state`), linear velocity 3, angular velocity 3,
        rotation to goal 4, tips 15."""
        to_goal = canonical(quat_multiply(quat_conjugate(self.object_quaternion()), self.goal))
        velocity = self.data.qvel[self._obj_v:self._obj_v + 6]
        return np.concatenate([object_state, velocity, to_goal, self.fingertip_positions().ravel()])

    def _sensed_orientation(self, q: np.ndarray) -> np.ndarray:
        """An orientation as the senses report it: canonical quaternion [4] or matrix columns [6]."""
        return canonical(q) if self.orientation == "quaternion" else quat_to_matrix6(q)

    def _goal_observation(self) -> np.ndarray:
        """The goal orientation [4|6], with relative_goal followed by the rotation still to do, in the
        hand's (world) frame: goal = turn * block."""
        goal = self._sensed_orientation(self.goal)
        if not self.relative_goal:
            return goal.astype(np.float32)
        turn = self._sensed_orientation(quat_multiply(self.goal, quat_conjugate(self.object_quaternion())))
        return np.concatenate([goal, turn]).astype(np.float32)

    def _vision_observation(self, block: np.ndarray) -> np.ndarray:
        """[7|9|13|15] block position, orientation (`orientation`), velocities (`object_velocity`)."""
        if self.orientation == "quaternion" and not self.object_velocity:
            return block.astype(np.float32)
        parts = [self.object_position(), self._sensed_orientation(self.object_quaternion())]
        if self.object_velocity:
            parts.append(self.data.qvel[self._obj_v:self._obj_v + 6])
        return np.concatenate(parts).astype(np.float32)

    def _observation(self) -> dict[str, np.ndarray]:
        block = self._object_state()
        return {"vision": self._vision_observation(block),
                "somatosensation": self._somatosensation(),
                "proprioception": self._proprioception(),
                "goal": self._goal_observation(),
                "asymmetric": self._asymmetric(block).astype(np.float32)}

    def _info(self) -> dict[str, Any]:
        info = {"is_success": float(self._success), "consecutive_goals_reached": int(self.consecutive_goals)}
        if self.goal_angle is not None:
            info["goal_angle"] = float(self.current_goal_angle())
        return info

    def state_info(self) -> dict[str, np.ndarray]:
        """Adds the task: goal and block orientation as canonical quaternions [4] (w >= 0; the physics'
        own may flip sign, the same rotation) and as the continuous first two rotation-matrix columns
        [6] (`object_rotation`, `goal_rotation`: what a linear decoder can read without the quaternion's
        jumps), the angle to the goal [1] (rad), the block position [3] and the goals reached."""
        block = self.object_quaternion()
        return {**super().state_info(), "goal": self.goal.copy(), "object_position": self.object_position().copy(),
                "object_quaternion": canonical(block), "object_rotation": quat_to_matrix6(block),
                "goal_rotation": quat_to_matrix6(self.goal), "goal_distance": np.array([quat_angle(block, self.goal)]),
                "consecutive_goals": np.array(self.consecutive_goals)}


def _real(name: str, value: Any, low: float, high: float, low_open: bool = True) -> float:
    """A finite number in (low, high] (or [low, high] when not low_open), else EnvironmentError_."""
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or not (low < value <= high if low_open else low <= value <= high):
        interval = f"{'(' if low_open else '['}{low:.4g}, {high:.4g}]"
        raise EnvironmentError_(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _goal_bounds(goal_angle: Any, curriculum: Any, step: Any, window: Any, threshold: Any,
                 success_distance: float) -> tuple[float | None, GoalCurriculum | None]:
    """Checked goal_angle (above the success distance, at most pi) and the curriculum (None when off)."""
    if not isinstance(curriculum, bool):
        raise EnvironmentError_(f"curriculum must be true or false, got {curriculum!r}")
    if goal_angle is None:
        if curriculum:
            raise EnvironmentError_("curriculum=True needs a starting goal_angle (radians), e.g. 0.8")
        return None, None
    angle = _real("goal_angle (radians, above the success distance)", goal_angle, success_distance, np.pi)
    if not curriculum:
        return angle, None
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise EnvironmentError_(f"curriculum_window must be an integer >= 1, got {window!r}")
    return angle, GoalCurriculum(angle, _real("curriculum_step", step, 0.0, np.pi), int(window),
                                 _real("curriculum_threshold", threshold, 0.0, 1.0))


class ManipulateBlockDiscreteEnv(ManipulateBlockEnv):
    """ManipulateBlock with MultiDiscrete actions: `bins` evenly spaced levels per actuator over its range."""

    shares_model = True

    def __init__(self, bins: int = 11, **kwargs: Any):
        self.bins = int(bins)
        super().__init__(**kwargs)
        self.action_space = gym.spaces.MultiDiscrete(np.full(self.model.nu, self.bins, dtype=np.int64))
        self._levels = np.linspace(-1.0, 1.0, self.bins)

    def _unit_action(self, action: np.ndarray) -> np.ndarray:
        """Bin indices [nu] -> levels in [-1, 1]."""
        return self._levels[np.clip(np.asarray(action, dtype=np.int64), 0, self.bins - 1)]


class ManipulateBlockVisualEnv(ManipulateBlockEnv):
    """ManipulateBlock with a camera image instead of the block state: vision uint8 [S, S, 3].

    The image is rendered in the env process each step (shadows, reflections and multisampling
    off, goal block hidden; ~2.5 ms at 64x64) by one renderer the process's Visual envs share;
    the block state stays in `asymmetric` for the value function.
    """

    vision_camera = {"lookat": (1.0, 0.89, 0.17), "distance": 0.25, "azimuth": 90.0, "elevation": -70.0}
    shares_model = True

    def __init__(self, vision_size: int = 64, **kwargs: Any):
        if kwargs.get("object_velocity"):
            raise EnvironmentError_("object_velocity needs the vector vision sense; ManipulateBlockVisual's is an image")
        self.vision_size = int(vision_size)
        self._vision_renderer: mujoco.Renderer | None = None
        super().__init__(**kwargs)
        self._vision_option = mujoco.MjvOption()
        self._vision_option.geomgroup[2] = 0  # the goal block
        self._vision_cam = mujoco.MjvCamera()
        self._vision_cam.lookat[:] = self.vision_camera["lookat"]
        for key in ("distance", "azimuth", "elevation"):
            setattr(self._vision_cam, key, self.vision_camera[key])

    def _observation_spaces(self) -> dict[str, gym.Space]:
        size = (self.vision_size, self.vision_size, 3)
        return {**super()._observation_spaces(), "vision": gym.spaces.Box(0, 255, size, np.uint8)}

    def camera_image(self) -> np.ndarray:
        """The vision camera's current view [S, S, 3] uint8 (what the `vision` observation holds)."""
        return self._vision()

    def _vision(self) -> np.ndarray:
        if self._vision_renderer is None:
            self._vision_renderer = self._shared_renderer(self.vision_size, self.vision_size)
        self._vision_renderer.update_scene(self.data, camera=self._vision_cam, scene_option=self._vision_option)
        return self._vision_renderer.render()

    def _observation(self) -> dict[str, np.ndarray]:
        obs = super()._observation()
        obs["vision"] = self._vision()
        return obs

    def close(self) -> None:
        if self._vision_renderer is not None:
            self._renderer_release()
            self._vision_renderer = None
        super().close()
