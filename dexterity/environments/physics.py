"""Physics profiles of the Shadow Hand tasks: integrator, timestep and solver settings, by name.

A hand env step lasts `control_period` seconds (default 0.04: 25 Hz control) and is simulated as
`control_period / timestep` physics steps. The hand's cost is those steps, so the profile decides
the env's speed; `benchmarks/hand_physics.py --profiles` measures each one's speed and its
fidelity against `reference` (the model files' own settings), and `docs/environments.md` has the
table. Select one with the env kwarg `physics` (a name or a dict of the fields below); the name
is saved with an agent's env kwargs, so an agent keeps the physics it learned on. Agents saved
before profiles existed ran on `reference` (`LEGACY_PROFILE`). TensorFlow-free.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import mujoco

from dexterity.errors import EnvironmentError_

_INTEGRATORS = {"euler": mujoco.mjtIntegrator.mjINT_EULER, "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
                "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT, "rk4": mujoco.mjtIntegrator.mjINT_RK4}


@dataclasses.dataclass(frozen=True)
class PhysicsProfile:
    """Simulator settings applied to a loaded hand model (None keeps the model file's value)."""

    name: str
    integrator: str = "euler"
    timestep: float = 0.002            # seconds per physics step
    iterations: int | None = None      # constraint solver iterations (model files: 20)
    ls_iterations: int | None = None   # solver line-search iterations (model files: 50)
    tolerance: float | None = None     # solver tolerance (model files: 1e-8)
    joint_friction: bool = True        # the joints' dry friction (frictionloss 0.001 N m, 24 solver rows)
    description: str = ""

    def substeps(self, control_period: float) -> int:
        """Physics steps per env step of `control_period` seconds (at least 1)."""
        return max(1, int(round(control_period / self.timestep)))


PROFILES: dict[str, PhysicsProfile] = {
    "reference": PhysicsProfile("reference", "euler", 0.002,
                                description="the model files' settings: semi-implicit Euler, 2 ms, Newton 20/50"),
    "fast": PhysicsProfile("fast", "implicitfast", 0.005, description="implicitfast, 5 ms"),
    "faster": PhysicsProfile("faster", "implicitfast", 0.008, description="implicitfast, 8 ms (AngoraPy's step)"),
    "fastest": PhysicsProfile("fastest", "implicitfast", 0.010, iterations=3, ls_iterations=5, joint_friction=False,
                              description="implicitfast, 10 ms (contacts' time constant: 2 steps), Newton 3/5, "
                                          "no joint dry friction"),
}
DEFAULT_PROFILE = "fastest"   # the fastest that passes the fidelity checks (tests/test_physics.py)
LEGACY_PROFILE = "reference"  # what agents saved without a `physics` kwarg were trained on


def get_profile(spec: str | dict[str, Any] | PhysicsProfile | None) -> PhysicsProfile:
    """A profile from its name, a dict of fields (name optional) or a profile; None: the default."""
    if spec is None:
        return PROFILES[DEFAULT_PROFILE]
    if isinstance(spec, PhysicsProfile):
        profile = spec
    elif isinstance(spec, str):
        if spec not in PROFILES:
            raise EnvironmentError_(f"unknown physics profile {spec!r}; known: {', '.join(PROFILES)}")
        return PROFILES[spec]
    elif isinstance(spec, dict):
        fields = {f.name for f in dataclasses.fields(PhysicsProfile)}
        unknown = sorted(set(spec) - fields)
        if unknown:
            raise EnvironmentError_(f"physics: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
        profile = PhysicsProfile(**{"name": "custom", **spec})
    else:
        raise EnvironmentError_(f"physics must be a profile name or a dict of settings, got {spec!r}")
    _check(profile)
    return profile


def _check(p: PhysicsProfile) -> None:
    if p.integrator not in _INTEGRATORS:
        raise EnvironmentError_(f"physics: integrator must be one of {', '.join(_INTEGRATORS)}, got {p.integrator!r}")
    if not isinstance(p.timestep, (int, float)) or isinstance(p.timestep, bool) or not 0 < p.timestep <= 0.05:
        raise EnvironmentError_(f"physics: timestep must be a number of seconds in (0, 0.05], got {p.timestep!r}")
    for key in ("iterations", "ls_iterations"):
        value = getattr(p, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise EnvironmentError_(f"physics: {key} must be an integer >= 1, got {value!r}")
    if not isinstance(p.joint_friction, bool):
        raise EnvironmentError_(f"physics: joint_friction must be true or false, got {p.joint_friction!r}")
    if p.tolerance is not None and (isinstance(p.tolerance, bool) or not isinstance(p.tolerance, (int, float))
                                    or not 0 <= p.tolerance < 1):
        raise EnvironmentError_(f"physics: tolerance must be a number in [0, 1), got {p.tolerance!r}")


def apply_profile(model: mujoco.MjModel, profile: PhysicsProfile) -> None:
    """Set the profile's options on `model` in place."""
    opt = model.opt
    opt.integrator = int(_INTEGRATORS[profile.integrator])
    opt.timestep = float(profile.timestep)
    for key in ("iterations", "ls_iterations", "tolerance"):
        value = getattr(profile, key)
        if value is not None:
            setattr(opt, key, value)
    friction_bit = int(mujoco.mjtDisableBit.mjDSBL_FRICTIONLOSS)
    if profile.joint_friction:
        opt.disableflags &= ~friction_bit
    else:
        opt.disableflags |= friction_bit


def step_physics(model: mujoco.MjModel, data: mujoco.MjData, substeps: int) -> None:
    """`substeps` physics steps; sensors are computed only in the last one, the only one whose
    readings are kept (the trajectory is identical: sensors never act on the dynamics)."""
    if substeps > 1:
        sensor_bit = int(mujoco.mjtDisableBit.mjDSBL_SENSOR)
        was_disabled = model.opt.disableflags & sensor_bit
        model.opt.disableflags |= sensor_bit
        try:
            mujoco.mj_step(model, data, nstep=substeps - 1)
        finally:
            if not was_disabled:
                model.opt.disableflags &= ~sensor_bit
    mujoco.mj_step(model, data)
