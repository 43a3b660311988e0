"""Hyperparameter configurations: one flat dict, built by `make_config`, validated once, saved verbatim.

Every parameter, its default, type and help text is declared once in `PARAMETERS`; the
command-line flags of `train.py` and the parameter table of the documentation are generated
from it, so they cannot drift.

    >>> config = make_config(workers=4, lr_pi=1e-3)
    >>> derived = derive_config(config, {"epochs": 3})
    >>> preset = get_preset("mujoco")
"""
from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, Callable

from dexterity.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Param:
    """One hyperparameter: default, accepted type(s), help text and an optional check."""

    default: Any
    kind: type | tuple[type, ...]
    help: str
    choices: tuple | None = None
    check: Callable[[Any], bool] | None = None
    check_text: str = ""
    nullable: bool = False


def _positive(x: Any) -> bool:
    return x > 0


SEED_LIMIT = 2 ** 32  # every seed flag takes 0 .. 2^32 - 1 (numpy's legacy and Keras' seeding need it)
SEED_RULE = "non-negative and below 2^32"


def _non_negative(x: Any) -> bool:
    return x >= 0


def is_seed(x: Any) -> bool:
    """The one rule for seeds, of training and of evaluate/observe/pretrain alike."""
    return 0 <= x < SEED_LIMIT


def _unit(x: Any) -> bool:
    return 0.0 <= x <= 1.0


PARAMETERS: dict[str, Param] = {
    # model
    "architecture": Param("simple", str, "network architecture (simple, deeper, wider, shadow or a registered one)"),
    "model": Param("ffn", str, "core type: ffn, rnn, lstm or gru", choices=("ffn", "rnn", "lstm", "gru")),
    "distribution": Param(None, str, "policy distribution (categorical, multi-categorical, gaussian, beta or a "
                                     "registered one); default: chosen from the action space", nullable=True),
    "shared": Param(False, bool, "share the trunk between policy and value networks"),
    "log_std_init": Param(0.0, float, "initial log standard deviation of the gaussian distribution"),
    "bins": Param(11, int, "bins per action dimension for the multi-categorical distribution on continuous spaces",
                  check=lambda x: x >= 2, check_text="at least 2"),
    "freeze_components": Param(None, str, "comma-separated model components whose weights stay fixed during RL, "
                                          "e.g. visual_encoder (a layer name or a prefix of layer names)",
                               nullable=True),
    # data collection
    "workers": Param(8, int, "number of environments; each contributes --horizon steps per cycle", check=_positive,
                     check_text="positive"),
    "horizon": Param(256, int, "steps each environment contributes per cycle", check=_positive, check_text="positive"),
    "processes": Param(0, int, "worker processes hosting the environments (0: one per core, at most one per env)",
                       check=_non_negative, check_text="non-negative"),
    "sequential": Param(None, bool, "true: run the environments in the main process; false: in worker processes; "
                                    "none: chosen from a measured env step cost (rendering envs always in workers)",
                        nullable=True),
    # returns
    "discount": Param(0.99, float, "discount factor gamma", check=_unit, check_text="in [0, 1]"),
    "lam": Param(0.95, float, "GAE lambda", check=_unit, check_text="in [0, 1]"),
    # optimisation
    "epochs": Param(10, int, "optimisation epochs per cycle", check=_positive, check_text="positive"),
    "batch_size": Param(64, int, "minibatch size in transitions over all ranks, split among the optimising ranks "
                                        "(recurrent: a multiple of --tbptt)", check=_positive,
                        check_text="positive"),
    "lr_pi": Param(3e-4, float, "learning rate (Adam, eps 1e-5)", check=_positive, check_text="positive"),
    "lr_schedule": Param(None, str, "learning-rate schedule: none, exponential, linear or adaptive (held to "
                                    "--adaptive-kl)", nullable=True,
                         choices=(None, "none", "exponential", "linear", "adaptive")),
    "lr_decay": Param(0.995, float, "per-cycle decay factor of the exponential schedule", check=lambda x: 0 < x <= 1,
                      check_text="in (0, 1]"),
    "adaptive_kl": Param(0.016, float, "approx-KL per epoch the adaptive schedule aims at: after each epoch the "
                                       "learning rate is divided by 1.5 above twice it, multiplied by 1.5 below half "
                                       "of it (within 1e-6 and 1e-2)", check=_positive, check_text="positive"),
    "clip": Param(0.2, float, "PPO clipping range of the probability ratio", check=_positive, check_text="positive"),
    "c_entropy": Param(0.0, float, "entropy bonus coefficient", check=_non_negative, check_text="non-negative"),
    "entropy_until": Param(None, int, "env steps (over all ranks) after which the entropy bonus is 0: cycles "
                                      "that start before this count train with --c-entropy, later ones without "
                                      "(none: the bonus throughout)", nullable=True, check=_positive,
                           check_text="positive"),
    "c_value": Param(0.5, float, "value loss coefficient", check=_non_negative, check_text="non-negative"),
    "norm_advantages": Param(True, bool, "normalise advantages per minibatch (zero mean, unit std)"),
    "clip_values": Param(False, bool, "clip the value update to +-clip around the old values (off: measured to "
                                      "learn faster on HalfCheetah)"),
    "grad_norm": Param(0.5, float, "global gradient norm clip (0 turns it off)", check=_non_negative,
                       check_text="non-negative"),
    "tbptt": Param(16, int, "truncated backpropagation through time: sequence length for recurrent models",
                   check=_positive, check_text="positive"),
    "target_kl": Param(None, float, "stop the cycle's epochs early once approx-KL exceeds this (none: never)",
                       nullable=True, check=_positive, check_text="positive"),
    # transformers
    "state_transformer": Param("state_normaliser", str, "transformer of observations (a registered name)"),
    "reward_transformer": Param("reward_normaliser", str, "transformer of rewards (a registered name)"),
    "state_norming": Param(True, bool, "normalise vector observations with running statistics (clipped)"),
    "reward_norming": Param(True, bool, "scale rewards by the running std of the discounted return"),
    "obs_clip": Param(10.0, float, "clip normalised observations to +-this", check=_positive, check_text="positive"),
    "reward_clip": Param(10.0, float, "clip normalised rewards to +-this", check=_positive, check_text="positive"),
    # run control
    "iterations": Param(1000, int, "training cycles", check=_positive, check_text="positive"),
    "stop_early": Param(False, bool, "stop once the last cycles' mean return reaches the env's reward threshold"),
    "stop_window": Param(5, int, "cycles that finished episodes averaged for --stop-early", check=_positive,
                         check_text="positive"),
    "eval": Param(False, bool, "run evaluation episodes each cycle so that at least 5 episodes count"),
    "radical_evaluation": Param(False, bool, "take the cycle statistics from evaluation episodes only"),
    "save_every": Param(0, int, "also keep a numbered checkpoint every N cycles (0: only best and last)",
                        check=_non_negative, check_text="non-negative"),
    "monitor_frequency": Param(1, int, "write a progress record every N cycles", check=_positive,
                               check_text="positive"),
    "gif_every": Param(0, int, "render a gif of the policy every N cycles (0: never)", check=_non_negative,
                       check_text="non-negative"),
    "tensorboard": Param(True, bool, "also write TensorBoard event files to the experiment folder: a scalar per "
                                     "numeric field of each progress record, at the env frame count as step"),
    "histogram_every": Param(10, int, "write TensorBoard histograms of the model weights every N cycles (0: never)",
                             check=_non_negative, check_text="non-negative"),
    "seed": Param(None, int, "random seed (none: drawn at random and saved)", nullable=True, check=is_seed,
                  check_text=SEED_RULE),
    "cpu": Param(False, bool, "force the CPU even where TensorFlow sees GPUs"),
    "debug": Param(False, bool, "debug mode: eager TensorFlow, extra checks and output"),
}

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "discrete": {"workers": 8, "horizon": 128, "epochs": 4, "batch_size": 256, "lr_pi": 2.5e-4,
                 "lr_schedule": "linear", "c_entropy": 0.01, "discount": 0.99, "lam": 0.95},
    "continuous": {"workers": 8, "horizon": 256, "epochs": 10, "batch_size": 64, "lr_pi": 3e-4},
    "mujoco": {"architecture": "simple", "model": "ffn", "workers": 8, "horizon": 256, "epochs": 10,
               "batch_size": 64, "lr_pi": 3e-4, "lr_schedule": "linear", "discount": 0.99, "lam": 0.95,
               "c_entropy": 0.0, "clip": 0.2, "grad_norm": 0.5, "log_std_init": -0.5},
    "pendulum": {"workers": 4, "horizon": 512, "epochs": 10, "batch_size": 64, "lr_pi": 1e-3,
                 "discount": 0.9, "lam": 0.95, "c_entropy": 0.0},
    "hand": {"architecture": "shadow", "model": "gru", "distribution": "beta", "workers": 128, "horizon": 64,
             "epochs": 8, "batch_size": 2048, "tbptt": 16, "lr_pi": 1e-3, "lr_schedule": "linear", "iterations": 450,
             "discount": 0.9, "lam": 0.95, "c_entropy": 0.0, "grad_norm": 0.5},
    # an entropy bonus for the first 1600 cycles of 8192 steps, none after (docs/shadow.md, eleventh session);
    # 4000 cycles (32.8M steps): the measured runs passed 10 consecutive goals at 24-26M
    "manipulate": {"architecture": "shadow", "model": "gru", "distribution": "beta", "workers": 1024, "horizon": 8,
                   "epochs": 8, "batch_size": 2048, "tbptt": 8, "lr_pi": 3e-4, "discount": 0.99, "lam": 0.95,
                   "c_entropy": 0.005, "entropy_until": 13_107_200, "grad_norm": 0.5, "iterations": 4000},
}

# Env kwargs a preset trains with unless `--env-kwargs` sets them: training aids (a goal curriculum,
# the relative goal sense) and the agent's interface (80 ms control of joint targets relative to the
# current joint angles, as Dactyl's), saved with the agent; the task that is reported (goals, success
# distance, drops) stays as it is. docs/shadow.md has the measurements behind each.
PRESET_ENV_KWARGS: dict[str, dict[str, Any]] = {
    "manipulate": {"goal_angle": 0.8, "curriculum": True, "relative_goal": True, "control_period": 0.08,
                   "relative_control": True},
}


ADAPTIVE_LR_BOUNDS = (1e-6, 1e-2)  # the adaptive schedule's floor and ceiling (learner.adapt_lr)


def check_value(name: str, value: Any, label: str | None = None) -> Any:
    """Validate one parameter value against its declaration; returns the (normalised) value.

    Errors name the value as `label` (a command-line flag, say), by default as "config: 'name'".
    """
    param = PARAMETERS[name]
    label = label or f"config: '{name}'"
    if value is None:
        if param.nullable:
            return None
        raise ConfigError(f"{label} must not be empty")
    kinds = param.kind if isinstance(param.kind, tuple) else (param.kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if bool not in kinds and isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigError(f"{label} must be of type {kinds[0].__name__}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{label} must be finite, got {value!r}")
    if param.choices is not None and value not in param.choices:
        allowed = ", ".join(str(c) for c in param.choices if c is not None)
        raise ConfigError(f"{label} must be one of {allowed}, got {value!r}")
    if param.check is not None and not param.check(value):
        raise ConfigError(f"{label} must be {param.check_text}, got {value!r}")
    return value


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Check every parameter and the combinations that need no model or ranks; returns a normalised copy.

    The checks that need the rank layout or the model's recurrence are in `dexterity.configs.layout`
    (PPOAgent calls them); nothing else validates a config.
    """
    unknown = sorted(set(config) - set(PARAMETERS))
    if unknown:
        raise ConfigError(f"config: unknown parameter(s) {', '.join(unknown)}")
    missing = sorted(set(PARAMETERS) - set(config))
    if missing:
        raise ConfigError(f"config: missing parameter(s) {', '.join(missing)}")
    checked = {name: check_value(name, config[name]) for name in PARAMETERS}
    if checked["lr_schedule"] == "none":
        checked["lr_schedule"] = None
    if checked["lr_schedule"] == "adaptive" and not ADAPTIVE_LR_BOUNDS[0] <= checked["lr_pi"] <= ADAPTIVE_LR_BOUNDS[1]:
        raise ConfigError(f"config: lr_pi ({checked['lr_pi']}) must be within the adaptive schedule's bounds "
                          f"{ADAPTIVE_LR_BOUNDS[0]:g} and {ADAPTIVE_LR_BOUNDS[1]:g}")
    data = checked["workers"] * checked["horizon"]
    if checked["batch_size"] > data:
        raise ConfigError(f"config: batch_size ({checked['batch_size']}) is larger than the data of one cycle "
                          f"(workers x horizon = {data})")
    if data % checked["batch_size"] != 0:
        raise ConfigError(f"config: batch_size ({checked['batch_size']}) must divide the data of one cycle "
                          f"(workers x horizon = {data})")
    return checked


def defaults() -> dict[str, Any]:
    """Every parameter at its default."""
    return {name: copy.deepcopy(p.default) for name, p in PARAMETERS.items()}


def make_config(**changes: Any) -> dict[str, Any]:
    """A full, validated config: every parameter at its default except those in `changes`."""
    return derive_config(defaults(), changes)


def derive_config(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A validated copy of `base` with `changes` applied (unknown keys raise ConfigError)."""
    unknown = sorted(set(changes) - set(PARAMETERS))
    if unknown:
        raise ConfigError(f"config: unknown parameter(s) {', '.join(unknown)}")
    merged = copy.deepcopy(dict(base))
    merged.update(copy.deepcopy(changes))
    return validate_config(merged)


def register_preset(name: str, changes: dict[str, Any], base: str = "default") -> None:
    """Make a preset selectable with `--pcon NAME`; `changes` are applied on top of preset `base`."""
    derive_config(get_preset(base), changes)  # validate now, not when a user selects it
    PRESETS[name] = {**PRESETS[base], **changes}


def list_presets() -> list[str]:
    return sorted(PRESETS)


def preset_env_kwargs(name: str | None) -> dict[str, Any]:
    """The env kwargs preset `name` trains with unless the user sets them (a copy; {} for most presets)."""
    return copy.deepcopy(PRESET_ENV_KWARGS.get(name or "", {}))


def get_preset(name: str) -> dict[str, Any]:
    """The full, validated config of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}'; known presets: {', '.join(list_presets())}")
    return make_config(**PRESETS[name])
