"""The learner: PPO epochs over a rollout, one traced call per epoch, gradients averaged over ranks.

Data are cut into sequences of `tbptt` steps (1 for feed-forward models); a minibatch is a set of
whole sequences, unrolled from the recurrent state stored at their start. Every rank optimises on
its own rollout; gradients are flattened and averaged with one allreduce per minibatch step.
"""
from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from dexterity.agent.losses import ppo_loss
from dexterity.agent.policy import Policy, reset_state
from dexterity.agent.progress import CycleProgress
from dexterity.agent.rollout import Rollout
from dexterity.configs.hp_config import ADAPTIVE_LR_BOUNDS
from dexterity.configs.layout import Minibatches
from dexterity.distributed import Comm

METRICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "grad_norm")


def to_sequences(array: np.ndarray, length: int) -> np.ndarray:
    """[T, N, ...] -> [N * T / length, length, ...]: consecutive steps of one env per sequence."""
    t, n = array.shape[:2]
    chunks = array.reshape(t // length, length, n, *array.shape[2:])
    chunks = np.swapaxes(chunks, 1, 2)  # [T/L, N, L, ...]
    return chunks.reshape(t // length * n, length, *array.shape[2:])


def learning_rate(config: dict[str, Any], iteration: int, current: float | None = None) -> float:
    """The learning rate of cycle `iteration` (0-based) under the config's schedule.

    The linear schedule decays to 0 at the run's target, `config["iterations"]` (PPOAgent.drill
    sets it to the cycle it trains to, also when resuming with more iterations). The adaptive one
    has no formula in the cycle: it is `current`, where the last epoch's KL left it (`adapt_lr`).
    """
    lr = config["lr_pi"]
    if config["lr_schedule"] == "exponential":
        return lr * config["lr_decay"] ** iteration
    if config["lr_schedule"] == "linear":
        return lr * max(1.0 - iteration / config["iterations"], 0.0)
    if config["lr_schedule"] == "adaptive" and current is not None:
        return current
    return lr


def entropy_coefficient(config: dict[str, Any], frames: int) -> float:
    """The entropy bonus of a cycle that starts after `frames` env steps (over all ranks): `c_entropy`,
    or 0 from `entropy_until` steps on."""
    until = config["entropy_until"]
    return 0.0 if until is not None and frames >= until else float(config["c_entropy"])


def adapt_lr(lr: float, kl: float, target: float) -> float:
    """The adaptive schedule's step after an epoch whose mean approx-KL (over ranks) was `kl`.

    Above twice the target the rate is divided by 1.5, below half of it multiplied by 1.5, within
    `ADAPTIVE_LR_BOUNDS` (the rule of rl_games' adaptive schedule, which Isaac Gym's Shadow Hand trains with
    at a target of 0.016).
    """
    if kl > 2.0 * target:
        return max(lr / 1.5, ADAPTIVE_LR_BOUNDS[0])
    if kl < 0.5 * target:
        return min(lr * 1.5, ADAPTIVE_LR_BOUNDS[1])
    return lr


def keeps_saved_lr(saved: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether a resumed or forked agent goes on from the learning rate saved in its optimizer: under
    the adaptive schedule, when the checkpoint trained with it at the same `lr_pi`; otherwise the
    rate starts at `lr_pi` (the other schedules compute theirs every cycle anyway)."""
    return (config["lr_schedule"] == "adaptive" and saved.get("lr_schedule") == "adaptive"
            and saved.get("lr_pi") == config["lr_pi"])


def xla_epochs(recurrent: bool, ranks: int) -> bool:
    """Whether the epoch function is compiled with XLA (`jit_compile`).

    Measured (benchmarks/optimiser.py, 2 cores): feed-forward `mujoco` preset 0.13 s per optimise
    with XLA against 0.31 s in graph mode; recurrent `hand` preset (shadow GRU) 3.3 s against 3.2 s,
    with 46 s instead of 15 s to compile. Across ranks the gradient allreduce is a host call, which
    XLA cannot compile. `DEXTERITY_XLA_EPOCH=0|1` overrides.
    """
    choice = os.environ.get("DEXTERITY_XLA_EPOCH")
    if choice in ("0", "1"):
        return choice == "1" and ranks == 1
    return ranks == 1 and not recurrent


class Learner:
    """Owns the optimizer; `optimise(rollout, lr)` runs the configured PPO epochs.

    `plan` (dexterity.configs.layout) says how this optimiser cuts its data into minibatches; by
    default it is the only optimiser, with `batch_size` transitions per step.
    """

    def __init__(self, policy: Policy, config: dict[str, Any], comm: Comm, seed: int,
                 plan: Minibatches | None = None):
        self.policy, self.config, self.comm = policy, config, comm
        self.plan = plan
        # this optimiser's share of the global minibatch times the optimisers (1: even data), the weight of
        # its gradients and of its figures in every mean over optimising ranks
        self.share = plan.weight if plan is not None else 1.0
        self.length = plan.length if plan is not None else (config["tbptt"] if policy.recurrent else 1)
        self.variables = policy.model.trainable_variables
        self.optimizer = keras.optimizers.Adam(learning_rate=config["lr_pi"], epsilon=1e-5)
        self.optimizer.build(self.variables)
        # read by the traced loss, so that a schedule (`entropy_coefficient`) needs no retrace
        self.c_entropy = tf.Variable(float(config["c_entropy"]), trainable=False, dtype=tf.float32)
        self.rng = np.random.default_rng(seed)
        self.jit = xla_epochs(policy.recurrent, comm.size)
        self._epoch = tf.function(self._epoch_impl, jit_compile=self.jit)

    def prepare(self, rollout: Rollout) -> dict[str, Any]:
        """Rollout -> dict of tensors [S, L, ...] (states [S, units] at each sequence start)."""
        seq = lambda a: tf.constant(to_sequences(a, self.length))  # noqa: E731
        data = {"obs": {k: seq(v) for k, v in rollout.obs.items()}, "actions": seq(rollout.actions),
                "log_probs": seq(rollout.log_probs), "values": seq(rollout.values),
                "advantages": seq(rollout.advantages), "returns": seq(rollout.returns),
                "resets": seq(rollout.resets)}
        data["states"] = [tf.constant(to_sequences(s, self.length)[:, 0]) for s in rollout.states]
        return data

    def _unroll(self, batch: dict[str, Any]) -> tuple[tf.Tensor, tf.Tensor]:
        """Unroll the model over [B, L] sequences -> params [B * L, P], values [B * L]."""
        state = batch["states"]
        params, values = [], []
        for t in range(self.length):
            state = reset_state(state, batch["resets"][:, t])
            p, v, state = self.policy.model.step({k: o[:, t] for k, o in batch["obs"].items()}, state)
            params.append(p)
            values.append(v)
        params = tf.stack(params, axis=1)
        return tf.reshape(params, [-1, params.shape[-1]]), tf.reshape(tf.stack(values, axis=1), [-1])

    def _average(self, grads: list[tf.Tensor]) -> list[tf.Tensor]:
        if self.comm.size == 1:
            return grads
        flat = tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)
        if self.share != 1.0:
            flat = flat * self.share
        flat = tf.numpy_function(self.comm.allreduce_mean, [flat], tf.float32)
        sizes = [int(np.prod(g.shape)) for g in grads]
        return [tf.reshape(part, g.shape) for part, g in zip(tf.split(flat, sizes), grads)]

    def gradients(self, batch: dict[str, Any]) -> tuple[list[tf.Tensor], dict[str, tf.Tensor]]:
        """Loss gradients on a minibatch of sequences, averaged over ranks -> (grads, metrics)."""
        flat = lambda x: tf.reshape(x, [-1, *x.shape[2:]])  # noqa: E731
        targets = {k: flat(batch[k]) for k in ("actions", "log_probs", "values", "advantages", "returns")}
        with tf.GradientTape() as tape:
            params, values = self._unroll(batch)
            loss, metrics = ppo_loss(self.policy.distribution, params, values, targets,
                                     {**self.config, "c_entropy": self.c_entropy})
        grads = tape.gradient(loss, self.variables)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, self.variables)]
        return self._average(grads), metrics

    def _step(self, batch: dict[str, Any]) -> tf.Tensor:
        """One optimisation step: averaged gradients, global-norm clip, Adam -> metrics vector [M]."""
        grads, metrics = self.gradients(batch)
        if self.config["grad_norm"] > 0:
            grads, norm = tf.clip_by_global_norm(grads, self.config["grad_norm"])
        else:
            norm = tf.linalg.global_norm(grads)
        self.optimizer.apply(grads, self.variables)
        metrics["grad_norm"] = norm
        return tf.stack([tf.cast(metrics[m], tf.float32) for m in METRICS])

    def _epoch_impl(self, data: dict[str, Any], order: tf.Tensor) -> tf.Tensor:
        """One epoch: order [n_minibatches, sequences per minibatch] -> metrics [n_minibatches, M]."""
        out = tf.TensorArray(tf.float32, size=tf.shape(order)[0])
        for i in tf.range(tf.shape(order)[0]):
            batch = tf.nest.map_structure(lambda x: tf.gather(x, order[i]), data)
            out = out.write(i, self._step(batch))
        return out.stack()

    def _run_epoch(self, data: dict[str, Any], order: tf.Tensor) -> tf.Tensor:
        """One epoch (a single call: no host round trip per minibatch); an op without an XLA kernel
        (a custom model or distribution) fails at compile time, before any update: graph mode then."""
        if not self.jit:
            return self._epoch(data, order)
        try:
            return self._epoch(data, order)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError):
            self.jit = False
            self._epoch = tf.function(self._epoch_impl)
            return self._epoch(data, order)

    def optimise(self, rollout: Rollout, lr: float, progress: CycleProgress | None = None,
                 c_entropy: float | None = None) -> dict[str, float]:
        """Run the PPO epochs on a rollout (advantages computed) from learning rate `lr`; returns mean
        metrics ("train/lr": the cycle's first rate; the adaptive schedule leaves its next one in the
        optimizer, `current_lr`, which checkpoints save with the optimizer's state).

        `progress` hears the minibatch steps done after each epoch (one traced call each);
        `c_entropy` is the cycle's entropy bonus (None: the config's).
        """
        self.optimizer.learning_rate = lr
        self.c_entropy.assign(self.config["c_entropy"] if c_entropy is None else c_entropy)
        data = self.prepare(rollout)
        n_seq = int(data["log_probs"].shape[0])
        per_batch, steps = self._minibatches(n_seq)
        progress = progress or CycleProgress()
        progress.phase("optimise", self.config["epochs"] * steps, "minibatch steps")
        results, epochs, first_lr = [], 0, lr
        for _ in range(self.config["epochs"]):
            order = self.rng.permutation(n_seq)[: steps * per_batch].reshape(steps, per_batch)
            metrics = self._run_epoch(data, tf.constant(order, tf.int32)).numpy()
            results.append(metrics)
            epochs += 1
            progress.update(epochs * steps)
            kl = float(self._rank_mean(np.array([metrics[:, METRICS.index("approx_kl")].mean()]))[0])
            if self.config["lr_schedule"] == "adaptive":  # every rank has the same kl, so the same rate
                lr = adapt_lr(lr, kl, self.config["adaptive_kl"])
                self.optimizer.learning_rate = lr
            if self.config["target_kl"] is not None and kl > self.config["target_kl"]:
                break
        self.policy.model.mark_weights_changed()
        means = self._rank_mean(np.concatenate(results).mean(axis=0))
        return {**{f"train/{m}": float(v) for m, v in zip(METRICS, means)}, "train/epochs_done": epochs,
                "train/steps": epochs * steps, "train/lr": first_lr}

    def _rank_mean(self, values: np.ndarray) -> np.ndarray:
        """Mean over the optimising ranks of per-rank figures [M], each weighted by its rank's share of
        the global minibatch as its gradients are (`Minibatches.weight`), so a KL stop or an adaptive
        step judges the same update the gradients made."""
        return self.comm.allreduce_mean(values * self.share)

    def current_lr(self) -> float:
        """The optimizer's learning rate now (float32, as saved in a checkpoint)."""
        return float(self.optimizer.learning_rate.numpy())

    def _minibatches(self, n_seq: int) -> tuple[int, int]:
        """(sequences per minibatch, minibatch steps per epoch) for `n_seq` sequences of data."""
        if self.plan is None:
            per_batch = self.config["batch_size"] // self.length
            return per_batch, n_seq // per_batch
        if n_seq != self.plan.rows * self.plan.steps:  # a layout bug: the allreduces would not match
            raise RuntimeError(f"optimiser holds {n_seq} sequences, planned {self.plan.rows} x {self.plan.steps}")
        return self.plan.rows, self.plan.steps
