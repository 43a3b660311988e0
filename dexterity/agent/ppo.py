"""PPOAgent: the training cycle (gather, advantages, optimise, log, save) and its state.

    agent = PPOAgent("CartPole-v1", make_config(workers=8))
    agent.drill()                                  # trains config["iterations"] cycles
    agent = PPOAgent.resume(agent_id)              # continues where it stopped
"""
from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any, Sequence

import numpy as np

from dexterity.agent import checkpoint as ckpt
from dexterity.agent.events import EventLog
from dexterity.agent.learner import Learner, entropy_coefficient, keeps_saved_lr, learning_rate
from dexterity.agent.progress import CycleProgress, make_progress
from dexterity.agent.report import episode_stats, format_line, rss_mb, run_versions
from dexterity.agent.rollout import Gatherer, Rollout, run_episodes
from dexterity.configs.hp_config import derive_config
from dexterity.configs.layout import envs_per_rank, minibatch_plan
from dexterity.devices import Role, plan_roles
from dexterity.distributed import Comm
from dexterity.envpool import EnvPool
from dexterity.environments import pinned_env_kwargs
from dexterity.errors import AgentNotFoundError, ConfigError, StorageError, failure_line
from dexterity.storage import ExperimentLog, check_agent_id, models_dir, new_agent_id, utc_now
from dexterity.transformers import make_transformer


class PPOAgent:
    """Trains a policy on a Gymnasium env with PPO; one instance per rank."""

    def __init__(self, env_id: str, config: dict[str, Any], comm: Comm | None = None, agent_id: str | None = None,
                 env_kwargs: dict[str, Any] | None = None, plugins: Sequence[str] = (), preset: str | None = None,
                 write_experiment: bool = True, verbose: bool = True, role: Role | None = None,
                 experiment_group: str | None = None, progress: bool = True):
        self.comm = comm or Comm()
        self.experiment_group = experiment_group  # meta.json `experiment_group` (dexterity.groups)
        self.role = role or plan_roles(self.comm, force_cpu=config["cpu"])
        self.env_id, self.env_kwargs, self.plugins = env_id, pinned_env_kwargs(env_id, env_kwargs), list(plugins)
        self.preset, self.verbose = preset, verbose and self.comm.is_root
        self.show_progress = progress and self.verbose  # live gather/optimise progress of long cycles
        if config["seed"] is None:
            config = derive_config(config, {"seed": int(self.comm.bcast(int(np.random.SeedSequence().entropy % 2**31)))})
        self.config = config
        self.agent_id = self.comm.bcast(agent_id or new_agent_id())
        self.log = ExperimentLog(self.agent_id) if (write_experiment and self.comm.is_root) else None
        self.events: EventLog | None = None  # TensorBoard files beside the log, open while drilling
        self.n_envs = envs_per_rank(config, self.comm.size)
        self.iteration, self.frames, self.wall_offset, self.best_return = 0, 0, 0.0, -np.inf
        self.history: list[dict[str, Any]] = []
        self._rewrite_progress, self._new_meta = False, {}  # what `_start_log` writes (resume, fork)
        seed, rank = config["seed"], self.comm.rank
        self.pool = EnvPool(env_id, self.n_envs, seed, rank, config["processes"], config["sequential"],
                            self.env_kwargs, self.plugins, index_offset=rank * self.n_envs,
                            ranks_on_node=self.role.local_ranks)
        try:
            self._build(seed)
        except BaseException:
            self.pool.close()
            raise
        self._eval_pool: EnvPool | None = None

    def _build(self, seed: int) -> None:
        pool, config = self.pool, self.config
        self.info = pool.info
        if config["stop_early"] and self.info.get("reward_threshold") is None:
            raise ConfigError(f"--stop-early needs a reward threshold, and {self.env_id} defines none")
        self.brain = ckpt.build_brain(config, pool.senses, pool.observation_space, pool.action_space, seed,
                                      self.comm.rank)
        self.policy = self.brain.policy
        self.reward_norm = make_transformer(config["reward_transformer"], self.n_envs, config)
        shares = self.role.shares or (1,) * len(self.role.optimiser_ranks)
        plan = minibatch_plan(config, self.policy.recurrent, shares, self.role.share_index())
        learner_comm = self.comm.split(self.role.optimiser_ranks)
        self.learner = Learner(self.policy, config, learner_comm, seed + 7919 * (self.comm.rank + 1), plan)
        self.gatherer = Gatherer(pool, self.policy, self.brain.state_norm, self.reward_norm, config["horizon"])
        self._broadcast_weights()

    def _broadcast_weights(self) -> None:
        if self.comm.size > 1:
            self.policy.model.set_weights(self.comm.bcast(self.policy.model.get_weights()))

    # ---- resuming ------------------------------------------------------------------------------

    @classmethod
    def resume(cls, agent_id: str, changes: dict[str, Any] | None = None, comm: Comm | None = None,
               which: str = "last", **kwargs: Any) -> "PPOAgent":
        """Rebuild a saved agent and continue its run: same id, iteration count, curves and state."""
        folder = ckpt.checkpoint_dir(agent_id, which)
        info = ckpt.read_info(folder)
        agent = cls(info["env_id"], ckpt.saved_config(info, changes), comm=comm, agent_id=info["agent_id"],
                    env_kwargs=info.get("env_kwargs"), plugins=info.get("plugins", ()), preset=info.get("preset"),
                    **kwargs)
        agent._restore(folder, info)
        return agent

    @classmethod
    def fork(cls, agent_id: str, which: str = "last", changes: dict[str, Any] | None = None,
             env_kwargs: dict[str, Any] | None = None, comm: Comm | None = None, **kwargs: Any) -> "PPOAgent":
        """A new agent (a new id) that starts where the saved agent's checkpoint `which` (last, best
        or a cycle) stands: weights, optimizer, normalisers, the envs' training states, cycle and
        frame counts, and the curves up to that cycle. `changes` as for `resume`; `env_kwargs` are
        merged key by key over the saved ones. The saved agent's files are only read; the fork's
        are written when it starts to train (`drill`)."""
        parent = ckpt.read_info(folder := ckpt.checkpoint_dir(agent_id, which))
        parent_id = parent["agent_id"]
        agent = cls(parent["env_id"], ckpt.saved_config(parent, changes), comm=comm,
                    env_kwargs={**(parent.get("env_kwargs") or {}), **(env_kwargs or {})},
                    plugins=parent.get("plugins", ()), preset=parent.get("preset"), **kwargs)
        try:
            agent._restore(folder, parent, ExperimentLog(parent_id))
            agent._new_meta = {"forked_from": {"agent_id": parent_id, "save": str(which), "iteration": agent.iteration}}
        except BaseException:
            agent.close()
            raise
        return agent

    def _restore(self, folder: Any, info: dict[str, Any], log: ExperimentLog | None = None) -> None:
        """Load a checkpoint's state; the curves up to its cycle come from `log` (default: this
        agent's) and are written back when `drill` starts, so a failing command changes no file."""
        self.policy.model.set_weights(ckpt.load_brain(folder, info, self.config).policy.model.get_weights())
        if info["config"].get("freeze_components") == self.config["freeze_components"]:
            ckpt.load_optimizer(folder, self.learner.optimizer)
            if not keeps_saved_lr(info["config"], self.config):
                self.learner.optimizer.learning_rate = self.config["lr_pi"]
        elif self.verbose:  # other trainable variables: the saved Adam moments do not fit
            print("note: --freeze-components changed since the save: the optimizer state (and the learning "
                  "rate) starts afresh")
        norms = ckpt.load_normalisers(folder)
        ckpt.restore_normaliser(self.brain.state_norm, norms, "state", folder)
        ckpt.restore_normaliser(self.reward_norm, norms, "reward", folder)
        rng = ckpt.load_rng(folder)
        try:
            if "learner" in rng and self.comm.size == rng.get("ranks", 1):
                self.learner.rng.bit_generator.state = rng["learner"]
            if "policy" in rng and self.comm.size == rng.get("ranks", 1):
                self.policy.set_rng_state(rng["policy"])
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentNotFoundError(f"{folder}/rng.json is corrupt ({exc})") from None
        self._restore_env_states(info.get("env_states"))
        self.iteration, self.frames = int(info["iteration"]), int(info["frames"])
        best = info.get("best_return")
        self.wall_offset = float(info.get("wall_time") or 0.0)
        self.best_return = -np.inf if best is None else float(best)
        if self.log is not None:
            if log is None and "copied_from" in info and not self.log.progress_path.exists():
                log = ExperimentLog(check_agent_id(info["copied_from"]))  # a copy without its curves: read them
            records = (log or self.log).read_progress()
            self.history = [r for r in records if isinstance(r.get("iteration", 0), int)
                            and r.get("iteration", 0) < self.iteration]
            self._rewrite_progress = True

    def _restore_env_states(self, states: list[Any] | None) -> None:
        """Give the envs the training states saved with the agent (rank 0's envs, cycled)."""
        mine = ckpt.spread_states(states, self.n_envs, self.comm.rank * self.n_envs)
        if mine:
            self.pool.set_training_states(mine)

    # ---- the training loop -------------------------------------------------------------------

    def drill(self, iterations: int | None = None) -> list[dict[str, Any]]:
        """Train until cycle `iterations` (default: the config's); returns this run's records.

        `iterations` becomes the run's target, `config["iterations"]`: the learning-rate schedule
        and the saved config use it, so a run drilled past its config never trains at lr 0.
        """
        iterations = iterations or self.config["iterations"]
        if iterations <= self.iteration:
            raise ConfigError(f"agent {self.agent_id} is already at cycle {self.iteration}; "
                              f"ask for more --iterations than that")
        if iterations != self.config["iterations"]:
            self.config = derive_config(self.config, {"iterations": iterations})
        self._start_log(iterations)
        progress = make_progress(self.show_progress, ranks=self.comm.size)
        records, status, error, start = [], "failed", None, time.perf_counter()
        try:
            while self.iteration < iterations:
                record = self.cycle(progress)
                records.append(record)
                self._after_cycle(record, iterations, start, len(records))
                if self.comm.bcast(self._should_stop()):
                    if self.verbose:
                        print(f"reward threshold {self.info['reward_threshold']} reached: stopping early")
                    break
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except Exception as exc:
            error = failure_line(exc)  # shown by the monitor; cleared when the run is resumed
            raise
        finally:
            if self.events is not None:
                self.events.close()
                self.events = None
            if self.log is not None:
                try:
                    self.log.update_meta(status=status, iteration=self.iteration, frames=self.frames,
                                         **({"error": error} if error else {}))
                except StorageError:
                    if status == "finished":
                        raise  # otherwise the error in flight (e.g. a failed checkpoint) is the one to report
        return records

    def cycle(self, progress: CycleProgress | None = None) -> dict[str, Any]:
        """One cycle: gather, compute advantages, sync normalisers, optimise. Returns the record."""
        progress = progress or CycleProgress()
        self.comm.reset_timer()
        t0 = time.perf_counter()
        progress.start_cycle(f"cycle {self.iteration + 1}/{self.config['iterations']}")
        try:
            rollout = self.gatherer.gather(progress)
            rollout.compute_advantages(self.config["discount"], self.config["lam"])
            self.brain.state_norm.sync(self.comm)
            self.reward_norm.sync(self.comm)
            t1 = time.perf_counter()
            train = self._optimise(rollout, progress)
            t2 = time.perf_counter()
        finally:
            progress.end_cycle()  # before the cycle's line is printed
        episodes = [e for part in self.comm.allgather(rollout.episodes) for e in part]
        steps = rollout.steps * self.comm.size
        self.frames += steps
        record = {"iteration": self.iteration, "frames": self.frames, **train, **self._episode_stats(episodes)}
        record["train/explained_variance"] = _explained_variance(rollout, self.comm)
        record.update(self.brain.state_norm.summary(), **self.reward_norm.summary())
        t3 = time.perf_counter()
        record.update({"time/gather_s": t1 - t0, "time/optimise_s": t2 - t1, "time/cycle_s": t3 - t0,
                       "time/steps_per_s": steps / (t3 - t0), "time/comm_s": self.comm.reset_timer(),
                       "dist/ranks": self.comm.size, "dist/workers": self.config["workers"],
                       "dist/optimisers": len(self.role.optimiser_ranks),
                       "memory/rss_mb": rss_mb()})
        self.iteration += 1
        return record

    def _optimise(self, rollout: Rollout, progress: CycleProgress) -> dict[str, Any]:
        """Optimise on this rank's data and its gatherers' (see dexterity.devices); weights end equal."""
        lr = learning_rate(self.config, self.iteration, self.learner.current_lr())
        if not self.role.optimiser:
            self.comm.send(rollout, self.role.optimiser_rank)
            train: dict[str, Any] = {}
        else:
            parts = [rollout] + [self.comm.recv(source) for source in self.role.gatherers]
            c_entropy = entropy_coefficient(self.config, self.frames)
            train = self.learner.optimise(Rollout.concatenate(parts) if len(parts) > 1 else rollout, lr, progress,
                                          c_entropy)
            if self.config["entropy_until"] is not None:
                train["train/c_entropy"] = c_entropy
        if len(self.role.optimiser_ranks) < self.comm.size:
            self._broadcast_weights()
            train = self.comm.bcast(train)
        return train

    def _episode_stats(self, episodes: list[dict[str, Any]]) -> dict[str, Any]:
        stats = {} if self.config["radical_evaluation"] else episode_stats(episodes)
        wanted = 5 if self.config["radical_evaluation"] else (5 - len(episodes) if self.config["eval"] else 0)
        if wanted > 0:
            evaluated = self.evaluate_episodes(max(wanted, 5 if self.config["radical_evaluation"] else wanted))
            if self.config["radical_evaluation"]:
                stats.update(episode_stats(evaluated))
            else:
                stats.update(episode_stats(episodes + evaluated))
            stats.update({k: v for k, v in episode_stats(evaluated, "eval").items()})
        return stats

    def evaluate_episodes(self, episodes: int, deterministic: bool = False) -> list[dict[str, Any]]:
        """Run episodes on separate evaluation envs (all ranks take part) with frozen normalisers."""
        if self._eval_pool is None:
            n = max(1, min(episodes, self.n_envs, 8))
            self._eval_pool = EnvPool(self.env_id, n, self.config["seed"] + 1_000_003, self.comm.rank,
                                      self.config["processes"], self.pool.layout.local, self.env_kwargs,
                                      self.plugins, index_offset=self.comm.rank * n)  # training's layout
        synced = ckpt.spread_states(self.pool.training_states(), self._eval_pool.n_envs)
        if synced and any(state is not None for state in synced):
            self._eval_pool.set_training_states(synced)  # e.g. the goal curriculum of training
        share = -(-episodes // self.comm.size)
        mine = run_episodes(self._eval_pool, self.policy, self.brain.state_norm, share, deterministic)
        return [e for part in self.comm.allgather(mine) for e in part]

    def _after_cycle(self, record: dict[str, Any], iterations: int, start: float, done: int) -> None:
        record["time/wall"] = self.wall_offset + time.perf_counter() - start
        self.history.append(record)
        if not self.comm.is_root:
            return
        ret = record.get("rollout/return_mean")
        improved = ret is not None and ret > self.best_return
        if improved:
            self.best_return = ret
        if self.log is not None and (record["iteration"] % self.config["monitor_frequency"] == 0
                                     or self.iteration == iterations):
            self.log.append_progress(record)
            if self.events is not None:
                self.events.scalars(record, step=self.frames)
        every = self.config["histogram_every"]
        if self.events is not None and every and self.iteration % every == 0:
            self.events.histograms(self.policy.model.variables, step=self.frames)
        self.save("last", wall_time=record["time/wall"])
        if improved:
            self.save("best", wall_time=record["time/wall"])
        if self.config["save_every"] and self.iteration % self.config["save_every"] == 0:
            self.save(str(self.iteration), wall_time=record["time/wall"])
        if self.config["gif_every"] and self.log is not None and self.iteration % self.config["gif_every"] == 0:
            self._write_gif()
        if self.verbose:
            eta = (time.perf_counter() - start) / done * (iterations - self.iteration)
            print(format_line(record, iterations, eta), flush=True)

    def _write_gif(self) -> None:
        """Render an episode of the current policy (in a worker process) to gifs/<iteration>.gif."""
        from dexterity.agent.media import record_episode, write_video
        from dexterity.errors import DexterityError
        try:
            frames, _ = record_episode(self.env_id, self.brain, self.env_kwargs, self.plugins,
                                       seed=self.config["seed"] + self.iteration,
                                       training_state=self.pool.training_states()[0])
            write_video(frames, self.log.dir / "gifs" / f"{self.iteration}.gif")
        except DexterityError as exc:
            print(f"warning: --gif-every turned off: {exc}", file=sys.stderr)
            self.config = {**self.config, "gif_every": 0}

    def _should_stop(self) -> bool:
        """--stop-early: the mean return of the last `stop_window` cycles that finished episodes (a cycle
        shorter than the episodes of a good policy finishes none) reaches the env's reward threshold."""
        if not self.config["stop_early"]:
            return False
        returns = [r["rollout/return_mean"] for r in self.history if r.get("rollout/return_mean") is not None]
        window = returns[-self.config["stop_window"]:]
        if len(window) < self.config["stop_window"]:
            return False
        return float(np.mean(window)) >= float(self.info["reward_threshold"])

    # ---- storage -----------------------------------------------------------------------------

    def _start_log(self, iterations: int) -> None:
        if self.log is None:
            return
        meta = {**self.log.read_meta(), **self._new_meta}  # read (and checked) before anything is written
        meta.pop("error", None)  # a former run's failure
        resumed = [*(meta.get("resumed_at") if isinstance(meta.get("resumed_at"), list) else []), self.iteration]
        if self._rewrite_progress:
            self.log.write_progress(self.history)
            self._rewrite_progress = False
        if self.config["tensorboard"] and self.events is None:
            self.events = EventLog.open(self.log.dir)
        config = self.config
        self.log.write_meta({
            **meta, "agent_id": self.agent_id, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
            "reward_threshold": self.info.get("reward_threshold"), "config": config, "preset": self.preset,
            "reward_config": self.reward_config(), "architecture": config["architecture"], "model": config["model"],
            "distribution": config["distribution"] or type(self.policy.distribution).name, "shared": config["shared"],
            "host": socket.gethostname(), "created": meta.get("created", utc_now()), "command": " ".join(sys.argv),
            "versions": run_versions(), "ranks": self.comm.size, "workers": config["workers"], "status": "running",
            "resumed_at": resumed, "iterations": iterations, "pid": os.getpid(),
            "env_layout": self.pool.layout.describe(),
            **({"experiment_group": self.experiment_group} if self.experiment_group else {})})

    def reward_config(self) -> dict[str, Any] | None:
        """The reward config the env uses (hand tasks), as {"name", "values"}; None for other envs."""
        values = self.info.get("reward_config")
        if values is None:
            return None
        name = self.env_kwargs.get("reward_config")
        return {"name": name if isinstance(name, str) else None, "values": values}

    def save(self, which: str, wall_time: float = 0.0) -> None:
        """Write checkpoint `which` (last, best, or an iteration number); rank 0 only."""
        if not self.comm.is_root:
            return
        info = {"agent_id": self.agent_id, "iteration": self.iteration, "frames": self.frames, "env_id": self.env_id,
                "env_kwargs": self.env_kwargs, "plugins": self.plugins, "preset": self.preset, "config": self.config,
                "best_return": self.best_return if np.isfinite(self.best_return) else None, "wall_time": wall_time,
                "saved": utc_now()}
        env_states = self.pool.training_states()
        if any(state is not None for state in env_states):
            info["env_states"] = env_states  # rank 0's envs: e.g. each one's goal curriculum
        rng = {"learner": self.learner.rng.bit_generator.state, "ranks": self.comm.size,
               "policy": self.policy.rng_state()}
        ckpt.save_checkpoint(models_dir(self.agent_id) / which, info, self.brain, self.learner.optimizer,
                             self.reward_norm, rng)

    def close(self) -> None:
        for pool in (self.pool, self._eval_pool):
            if pool is not None:
                pool.close()

    def __enter__(self) -> "PPOAgent":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _explained_variance(rollout: Any, comm: Comm) -> float:
    from dexterity.agent.gae import explained_variance
    value = explained_variance(rollout.values.ravel(), rollout.returns.ravel())
    value = float(comm.allreduce_mean(np.array([0.0 if np.isnan(value) else value]))[0])
    return value
