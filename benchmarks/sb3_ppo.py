"""The Stable-Baselines3 side of `benchmarks/vs_sb3.py`: PPO with the `mujoco` preset's hyperparameters.

Run with a Python that has torch and stable-baselines3 (never a dependency of dexterity), e.g.

    /work/sb3venv/bin/python benchmarks/sb3_ppo.py HalfCheetah-v5 --envs 8 --steps 256 --cycles 30

Trains `cycles` rollouts of `envs x steps` env steps in a DummyVecEnv (all envs in this process,
SB3's fastest layout for a cheap env) under VecNormalize, with one torch thread, and prints one
JSON line: the seconds from the first env step (`learn` called) to the end, the seconds the
process spent before that (imports, env and model built), the env steps and the versions.
This file imports nothing from dexterity, so that it runs in the separate SB3 venv.
"""
from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
from typing import Callable  # noqa: E402

LR = 3e-4


def lr_schedule(cycles: int) -> Callable[[float], float]:
    """Our linear schedule, lr * (1 - i / cycles) in cycle i, as a function of SB3's progress_remaining.

    SB3 evaluates the schedule after the cycle's rollout, when progress_remaining is already
    1 - (i + 1) / cycles; adding one cycle's share back gives cycle i our rate.
    """
    return lambda remaining: LR * min(remaining + 1.0 / cycles, 1.0)


def train(env_id: str, envs: int, steps: int, cycles: int, seed: int) -> dict:
    """Build the vec env and PPO, train `cycles` rollouts; the timings and versions as a dict."""
    import gymnasium
    import mujoco
    import stable_baselines3
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    torch.set_num_threads(1)
    venv = VecNormalize(make_vec_env(env_id, n_envs=envs, seed=seed, vec_env_cls=DummyVecEnv),
                        norm_obs=True, norm_reward=True, clip_obs=10.0, clip_reward=10.0, gamma=0.99)
    policy_kwargs = dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=torch.nn.Tanh,
                         log_std_init=-0.5, ortho_init=True)
    model = PPO("MlpPolicy", venv, learning_rate=lr_schedule(cycles), n_steps=steps, batch_size=64, n_epochs=10,
                gamma=0.99, gae_lambda=0.95, clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5,
                policy_kwargs=policy_kwargs, device="cpu", seed=seed, verbose=0)
    ready = time.perf_counter()
    model.learn(total_timesteps=envs * steps * cycles, progress_bar=False)
    end = time.perf_counter()
    venv.close()
    return {"startup_s": ready - START, "post_startup_s": end - ready, "steps": int(model.num_timesteps),
            "versions": {"stable_baselines3": stable_baselines3.__version__, "torch": torch.__version__,
                         "gymnasium": gymnasium.__version__, "mujoco": mujoco.__version__}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env")
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=256, help="steps per env per cycle (SB3's n_steps)")
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(train(args.env, args.envs, args.steps, args.cycles, args.seed)), flush=True)


if __name__ == "__main__":
    main()
