"""HandEnv: the Shadow Hand on the official mujoco bindings; the tasks subclass it.

The hand: 24 joints (first in qpos/qvel), 20 position actuators (4 distal finger joints are
coupled to the middle ones by tendons). Actions are in [-1, 1]^20 and are mapped to the actuator
control ranges (`relative_control`): absolute (`center + half_range * a`), relative to the actuated
joint's current position (`qpos + half_range * a`; True or "position") or relative to the previous
targets (`ctrl + half_range * a`; "target", Isaac Gym's relative control: action 0 holds the
targets), clipped to the range. One env step lasts `control_period`
seconds (default 0.04), simulated as physics steps of the `physics` profile's timestep
(`dexterity.environments.physics`; `substeps` overrides their number). TensorFlow-free:
rendering needs it to stay so.
"""
from __future__ import annotations

import abc
import dataclasses
import importlib.util
import os
import weakref
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from dexterity.configs.reward_config import resolve_reward_config
from dexterity.environments.physics import PhysicsProfile, apply_profile, get_profile, step_physics
from dexterity.environments.rewards import RewardFunction, get_reward_function
from dexterity.errors import EnvironmentError_

N_HAND_JOINTS = 24
FINGERTIPS = ("ff", "mf", "rf", "lf", "th")
_COUPLED = {"FFJ1": "FFJ0", "MFJ1": "MFJ0", "RFJ1": "RFJ0", "LFJ1": "LFJ0"}


def asset_path(name: str) -> str:
    """Absolute path of a hand XML among gymnasium-robotics' assets (its code is never imported)."""
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise EnvironmentError_("the Shadow Hand tasks need the gymnasium-robotics package for the hand model files")
    return os.path.join(list(spec.submodule_search_locations)[0], "envs", "assets", "hand", name)


_SHARED_MODELS: dict[tuple[str, PhysicsProfile], mujoco.MjModel] = {}


def load_model(name: str, profile: PhysicsProfile, shared: bool) -> mujoco.MjModel:
    """The hand model `name` with `profile` applied; `shared=True` returns one model per (file,
    profile) in this process. A hand model holds about 13 MB (mostly its textures) against about
    0.6 MB for an MjData, so the envs of a worker share it where the task allows (the manipulate
    preset's 1024 envs: about 0.8 GB instead of 15 GB). Sharers only read it, apart from writes
    undone within one call (step_physics' sensor flag, a renderer's sample count) and the marker
    colours that every env of a task sets in `draw_markers` before it draws, which is safe as long as
    a process steps and renders its envs from one thread, as dexterity does."""
    key = (name, profile)
    if shared and key in _SHARED_MODELS:
        return _SHARED_MODELS[key]
    model = mujoco.MjModel.from_xml_path(asset_path(name))
    apply_profile(model, profile)
    if shared:
        _SHARED_MODELS[key] = model
    return model


@dataclasses.dataclass
class _SharedRenderer:
    renderer: mujoco.Renderer
    users: int = 0


# vision renderers shared by the envs of this process: (id(model), height, width) -> renderer and users
_SHARED_RENDERERS: dict[tuple[int, int, int], _SharedRenderer] = {}


def _release_renderer(key: tuple[int, int, int]) -> None:
    """One user fewer of a shared renderer; the last one closes it."""
    shared = _SHARED_RENDERERS[key]
    shared.users -= 1
    if shared.users == 0:
        del _SHARED_RENDERERS[key]
        shared.renderer.close()


def _float_box(size: int) -> gym.spaces.Box:
    return gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)


def _ensure_headless_gl() -> None:
    """Use EGL when there is no display, even if mujoco was imported before MUJOCO_GL could be set."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    from mujoco.rendering.classic import gl_context
    if getattr(gl_context, "GLContext", None) is None or gl_context.GLContext.__module__.startswith("mujoco.glfw"):
        os.environ["PYOPENGL_PLATFORM"] = "egl"
        from mujoco.egl import GLContext
        gl_context.GLContext = GLContext


_CONTROL_MODES = ("absolute", "position", "target")


def control_mode(relative_control: Any) -> str:
    """'absolute', 'position' or 'target' from a `relative_control` kwarg (False, True or a mode name)."""
    if isinstance(relative_control, bool):
        return "position" if relative_control else "absolute"
    if isinstance(relative_control, str) and relative_control in _CONTROL_MODES:
        return relative_control
    raise EnvironmentError_(f"relative_control must be true, false or one of {sorted(_CONTROL_MODES)}, "
                            f"got {relative_control!r}")


def _substeps(substeps: Any, control_period: Any, physics: PhysicsProfile) -> int:
    """Physics steps per env step: `substeps` when given, else `control_period` / timestep."""
    if substeps is not None:
        if isinstance(substeps, bool) or not isinstance(substeps, (int, np.integer)) or substeps < 1:
            raise EnvironmentError_(f"substeps must be an integer >= 1, got {substeps!r}")
        return int(substeps)
    ok = isinstance(control_period, (int, float)) and not isinstance(control_period, bool)
    if not ok or not physics.timestep <= control_period <= 1.0:
        raise EnvironmentError_(f"control_period must be seconds in [{physics.timestep:g}, 1] (the physics "
                                f"timestep up to 1 s), got {control_period!r}")
    return physics.substeps(float(control_period))


class HandEnv(gym.Env, abc.ABC):
    """Base task: physics, action mapping, effort measures, rendering and `state_info`."""

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 25}
    model_file = "reach.xml"
    default_reward_config = "reach.default"
    default_reward_function = "reach"
    touch_prefix = "robot0:ST_Tch_"   # touch sensors read into somatosensation
    initial_ctrl: dict[str, float] = {}  # actuator targets (joint name -> rad) of the start pose; others 0
    camera = {"lookat": (1.0, 0.95, 0.2), "distance": 0.5, "azimuth": 55.0, "elevation": -30.0}
    # True: envs of a process with the same model file and physics share one MjModel (see
    # load_model). Each class opts in itself (a subclass does not inherit it, see __init_subclass__):
    # a task that writes to its model per env (randomised physics) must not share it; per-env
    # markers are drawn by draw_markers instead
    shares_model = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls.shares_model = bool(cls.__dict__.get("shares_model", False))

    def __init__(self, reward_config: str | dict | None = None, reward_function: str | RewardFunction | None = None,
                 relative_control: bool | str = False, physics: str | dict | PhysicsProfile | None = None,
                 control_period: float = 0.04, substeps: int | None = None, render_mode: str | None = None,
                 render_width: int = 480, render_height: int = 480):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise EnvironmentError_(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.physics = get_profile(physics)
        self.model = load_model(self.model_file, self.physics, self.shares_model)
        self.data = mujoco.MjData(self.model)
        self.reward_config = resolve_reward_config(reward_config, self.default_reward_config)
        self.reward_function = get_reward_function(reward_function or self.default_reward_function)
        self.control_mode = control_mode(relative_control)
        self.substeps = _substeps(substeps, control_period, self.physics)
        self.control_period = self.substeps * self.physics.timestep
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.control_period)}
        self.render_mode = render_mode
        self.render_size = (int(render_height), int(render_width))
        self._renderer: mujoco.Renderer | None = None
        self._viewer: Any = None
        self._index_model()
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self.model.nu,), np.float32)
        self._initial_qpos, self._initial_qvel, self._initial_ctrl = self._settle()

    # ---- set-up -------------------------------------------------------------------------------
    def _index_model(self) -> None:
        """Precompute index arrays and constants used every step."""
        m = self.model
        assert list(m.jnt_qposadr[:N_HAND_JOINTS]) == list(range(N_HAND_JOINTS)), "hand joints must lead qpos"
        self.joint_names = [m.joint(i).name.split(":")[-1] for i in range(N_HAND_JOINTS)]
        act_joint = m.actuator_trnid[:, 0]
        self._act_qpos = m.jnt_qposadr[act_joint].copy()
        names = [self.joint_names[j] for j in act_joint]
        self._coupled_act = np.array([i for i, n in enumerate(names) if n in _COUPLED], int)
        self._coupled_qpos = np.array([self.joint_names.index(_COUPLED[names[i]]) for i in self._coupled_act], int)
        self._ctrl_low, self._ctrl_high = m.actuator_ctrlrange[:, 0].copy(), m.actuator_ctrlrange[:, 1].copy()
        self._ctrl_center = (self._ctrl_low + self._ctrl_high) / 2.0
        self._ctrl_half = (self._ctrl_high - self._ctrl_low) / 2.0
        self._force_limit = m.actuator_forcerange[:, 1].copy()
        limited = np.flatnonzero(m.tendon_limited)
        self._tendon_ids = limited
        self._tendon_mid = m.tendon_range[limited].mean(axis=1)
        self._tendon_half = np.diff(m.tendon_range[limited], axis=1)[:, 0] / 2.0
        self._tip_sites = np.array([m.site(f"robot0:S_{f}tip").id for f in FINGERTIPS], int)
        touch = [i for i in range(m.nsensor) if m.sensor_type[i] == mujoco.mjtSensor.mjSENS_TOUCH
                 and m.sensor(i).name.startswith(self.touch_prefix)]
        self.touch_names = [m.sensor(i).name.split(":")[-1] for i in touch]
        self._touch_adr = m.sensor_adr[touch].copy()
        touch_sites = m.sensor_objid[m.sensor_type == mujoco.mjtSensor.mjSENS_TOUCH]
        m.site_rgba[touch_sites, 3] = 0.0  # sensing zones, not visible parts (and halve render time)
        self.actuator_names = [m.actuator(i).name.split(":")[-1] for i in range(m.nu)]

    def physics_steps(self, seconds: float) -> int:
        """Physics steps that simulate `seconds` (at least 1)."""
        return max(1, int(round(seconds / self.physics.timestep)))

    def _settle(self, seconds: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the start pose under its controls until it rests; returns (qpos, qvel, ctrl) copies."""
        mujoco.mj_resetData(self.model, self.data)
        targets = np.zeros(self.model.nu)
        for name, value in self.initial_ctrl.items():
            targets[self.actuator_names.index(f"A_{name}")] = value
        ctrl = np.clip(targets, self._ctrl_low, self._ctrl_high)
        self.data.qpos[self._act_qpos] = ctrl
        self.data.ctrl[:] = ctrl
        mujoco.mj_step(self.model, self.data, nstep=self.physics_steps(seconds))
        return self.data.qpos.copy(), self.data.qvel.copy(), ctrl

    # ---- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start pose, fresh task state (goal ...) drawn from `self.np_random`."""
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = self._initial_qpos
        self.data.qvel[:] = self._initial_qvel
        self.data.ctrl[:] = self._initial_ctrl
        self._reset_task()
        mujoco.mj_forward(self.model, self.data)
        self._after_reset()
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        """Map the action to controls, run `substeps` physics steps, evaluate the task."""
        unit = self._unit_action(action)
        if self.control_mode == "absolute":
            center = self._ctrl_center
        elif self.control_mode == "position":
            center = self.data.qpos[self._act_qpos]
        else:  # "target": the previous step's targets
            center = self.data.ctrl.copy()
        np.clip(center + self._ctrl_half * unit, self._ctrl_low, self._ctrl_high, out=self.data.ctrl)
        step_physics(self.model, self.data, self.substeps)
        reward, terminated, truncated = self._evaluate()
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, terminated, truncated, self._info()

    def _unit_action(self, action: np.ndarray) -> np.ndarray:
        """The action as [nu] float64 in [-1, 1] (the discrete task overrides this)."""
        return np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)

    # ---- task hooks (subclasses) --------------------------------------------------------------
    def _reset_task(self) -> None:
        """Draw the episode's goal; may edit qpos (called before mj_forward)."""

    def _after_reset(self) -> None:
        """Task bookkeeping that needs the forward-computed state."""

    @abc.abstractmethod
    def _evaluate(self) -> tuple[float, bool, bool]:
        """(reward, terminated, truncated) of the step just simulated."""

    @abc.abstractmethod
    def _observation(self) -> dict[str, np.ndarray]:
        """The observation dict of the current state (layout in docs/environments.md)."""

    @abc.abstractmethod
    def _info(self) -> dict[str, Any]:
        """The step's info dict (at least `is_success`)."""

    # ---- shared measurements ------------------------------------------------------------------
    def fingertip_positions(self) -> np.ndarray:
        """[5, 3] world positions of the ff, mf, rf, lf and thumb tips (a fresh array)."""
        return self.data.site_xpos[self._tip_sites]

    def _proprioception(self) -> np.ndarray:
        """[48] float32: 24 hand joint angles (rad) then their 24 velocities (rad/s)."""
        return np.concatenate([self.data.qpos[:N_HAND_JOINTS], self.data.qvel[:N_HAND_JOINTS]]).astype(np.float32)

    def _somatosensation(self) -> np.ndarray:
        """[n_touch + 20] float32: touch sensor readings (N), then actuator forces (N m)."""
        return np.concatenate([self.data.sensordata[self._touch_adr], self.data.actuator_force]).astype(np.float32)

    def _effort_pieces(self) -> tuple[float, float]:
        """(force_penalty, tendon_stress): mean squared normalised actuator force and tendon deflection."""
        force = self.data.actuator_force / self._force_limit
        deflection = (self.data.ten_length[self._tendon_ids] - self._tendon_mid) / self._tendon_half
        return float(force @ force) / force.size, float(deflection @ deflection) / deflection.size

    def state_info(self) -> dict[str, np.ndarray]:
        """Copies of the physical state for analysis tools (subclasses add goal/object entries)."""
        return {"joint_angles": self.data.qpos[:N_HAND_JOINTS].copy(),
                "joint_velocities": self.data.qvel[:N_HAND_JOINTS].copy(),
                "fingertip_positions": self.fingertip_positions(),
                "actuator_forces": self.data.actuator_force.copy(),
                "ctrl": self.data.ctrl.copy(),
                "touch": self.data.sensordata[self._touch_adr].copy()}

    # ---- rendering ----------------------------------------------------------------------------
    def _free_camera(self) -> mujoco.MjvCamera:
        cam = mujoco.MjvCamera()
        cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        cam.lookat[:] = self.camera["lookat"]
        cam.distance, cam.azimuth, cam.elevation = (self.camera[k] for k in ("distance", "azimuth", "elevation"))
        return cam

    def _make_renderer(self, height: int, width: int, antialias: bool = True) -> mujoco.Renderer:
        """An offscreen renderer with shadows and reflections off; no multisampling unless `antialias`."""
        vis = self.model.vis.global_
        vis.offwidth, vis.offheight = max(vis.offwidth, width), max(vis.offheight, height)
        samples = self.model.vis.quality.offsamples
        if not antialias:
            self.model.vis.quality.offsamples = 0
        try:
            _ensure_headless_gl()
            renderer = mujoco.Renderer(self.model, height, width)
        finally:
            self.model.vis.quality.offsamples = samples
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        return renderer

    def _shared_renderer(self, height: int, width: int) -> mujoco.Renderer:
        """An unantialiased renderer that every env of this process on the same (shared) model and
        image size uses in turn (a renderer holds about 100 MB: a GL context with the model's
        textures). Released by calling `self._renderer_release` (close() does) or when this env is
        garbage-collected; closed with its last user."""
        if not self.shares_model:
            renderer = self._make_renderer(height, width, antialias=False)
            self._renderer_release = weakref.finalize(self, renderer.close)
            return renderer
        key = (id(self.model), height, width)
        if key not in _SHARED_RENDERERS:
            _SHARED_RENDERERS[key] = _SharedRenderer(self._make_renderer(height, width, antialias=False))
        _SHARED_RENDERERS[key].users += 1
        self._renderer_release = weakref.finalize(self, _release_renderer, key)
        return _SHARED_RENDERERS[key].renderer

    def draw_markers(self) -> None:
        """Put this env's own markers (e.g. goals) into the scene just before a frame is drawn; a
        task whose envs share their model keeps no per-env markers in it. None by default."""

    def render(self) -> np.ndarray | None:
        """rgb_array: an [H, W, 3] uint8 frame; human: syncs the passive viewer (needs a display)."""
        if self.render_mode == "rgb_array":
            if self._renderer is None:
                self._renderer = self._make_renderer(*self.render_size)
                self._render_camera = self._free_camera()
            self.draw_markers()
            self._renderer.update_scene(self.data, camera=self._render_camera)
            return self._renderer.render()
        if self.render_mode == "human":
            if self._viewer is None:
                if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
                    raise EnvironmentError_("render_mode='human' needs a display; use 'rgb_array' instead")
                import mujoco.viewer
                self._viewer = mujoco.viewer.launch_passive(self.model, self.data)
            self.draw_markers()
            self._viewer.sync()
        return None

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None
