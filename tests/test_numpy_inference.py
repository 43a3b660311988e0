"""TensorFlow-free inference: numpy twins of the layers, distributions and built-in models.

Expectations are independent of the twins: Keras layers and models, the TensorFlow distributions,
scipy densities and sampling moments.
"""
import gymnasium as gym
import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

from dexterity import numpy_ops
from dexterity.agent.learner import Learner
from dexterity.agent.numpy_policy import NumpyPolicy
from dexterity.agent.policy import Policy
from dexterity.agent.rollout import Gatherer
from dexterity.configs.hp_config import make_config
from dexterity.distributed import Comm
from dexterity.distributions import Gaussian, get_distribution
from dexterity.distributions import numpy_math as npm
from dexterity.envpool import EnvPool
from dexterity.models import build_model
from dexterity.spaces import Sense
from dexterity.transformers import make_transformer

SENSES = [Sense("proprioception", (5,), "float32", False), Sense("goal", (3,), "float32", False),
          Sense("vision", (4,), "float32", False), Sense("asymmetric", (2,), "float32", False)]
BOX = gym.spaces.Box(low=np.array([-1.0, 0.0, -3.0], np.float32), high=np.array([1.0, 2.0, 5.0], np.float32))
SPACES = {"gaussian": BOX, "beta": BOX, "categorical": gym.spaces.Discrete(4),
          "multi-categorical": gym.spaces.MultiDiscrete([3, 5])}
RNG = np.random.default_rng(0)


# ---- layers against Keras ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_keras(kind):
    keras.utils.set_random_seed(1)
    cell = getattr(keras.layers, kind)(6, **({"reset_after": True} if kind == "GRUCell" else {}),
                                       bias_initializer="random_normal")
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    state = [RNG.normal(size=(4, 6)).astype(np.float32) for _ in range(2 if kind == "LSTMCell" else 1)]
    h, new_state = cell(tf.constant(x), [tf.constant(s) for s in state])
    twin = numpy_ops.numpy_layer(cell)
    twin.load()
    h_np, state_np = twin(x, state)
    np.testing.assert_allclose(h_np, h.numpy(), atol=1e-6)
    for a, b in zip(state_np, new_state):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-6)


def test_dense_twin_and_unsupported_layers():
    layer = keras.layers.Dense(3, activation="relu", bias_initializer="random_normal")
    x = RNG.normal(size=(5, 4)).astype(np.float32)
    expected = layer(x).numpy()
    twin = numpy_ops.numpy_layer(layer)
    twin.load()
    np.testing.assert_allclose(twin(x), expected, atol=1e-6)
    np.testing.assert_allclose(numpy_ops.sigmoid(np.array([-800.0, 0.0, 800.0])), [0.0, 0.5, 1.0])
    with pytest.raises(numpy_ops.Unsupported):
        numpy_ops.numpy_layer(keras.layers.Conv2D(2, 3))
    with pytest.raises(numpy_ops.Unsupported):
        numpy_ops.numpy_layer(keras.layers.Dense(2, activation="softmax"))


# ---- distribution maths against closed forms -----------------------------------------------------

def test_numpy_log_probs_against_scipy():
    mean, log_std = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3)) * 0.3
    x = RNG.normal(size=(5, 3))
    np.testing.assert_allclose(npm.gaussian_log_prob(mean, log_std, x),
                               stats.norm.logpdf(x, mean, np.exp(log_std)).sum(-1), rtol=1e-10)
    a, b, u = RNG.uniform(1, 5, (5, 3)), RNG.uniform(1, 5, (5, 3)), RNG.uniform(0.01, 0.99, (5, 3))
    np.testing.assert_allclose(npm.beta_log_prob(a, b, u, 1e-6), stats.beta.logpdf(u, a, b).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(npm.beta_mode(np.array([3.0, 0.5]), np.array([2.0, 0.5])), [2 / 3, 0.5], rtol=1e-6)
    logits, actions = RNG.normal(size=(5, 2, 4)), RNG.integers(0, 4, (5, 2))
    p = special.softmax(logits, axis=-1)
    np.testing.assert_allclose(npm.categorical_log_prob(logits, actions),
                               np.log(np.take_along_axis(p, actions[..., None], -1)[..., 0]), rtol=1e-10)


def test_numpy_samplers_have_the_right_moments():
    rng, n = np.random.default_rng(3), 40000
    g = npm.gaussian_sample(np.full((n, 1), 0.5, np.float32), np.full((n, 1), np.log(2.0), np.float32), rng)
    assert abs(g.mean() - 0.5) < 0.05 and abs(g.std() - 2.0) < 0.05 and g.dtype == np.float32
    b = npm.beta_sample(np.full((n, 1), 2.0), np.full((n, 1), 5.0), rng, 1e-6)
    assert abs(b.mean() - 2 / 7) < 0.01 and b.dtype == np.float32
    logits = np.log(np.array([[0.1, 0.2, 0.7]] * n, np.float32))
    counts = np.bincount(npm.gumbel_argmax(logits, rng), minlength=3) / n
    np.testing.assert_allclose(counts, [0.1, 0.2, 0.7], atol=0.01)


# ---- whole models: every architecture x model x distribution ---------------------------------------

def _inputs(net, batch=5):
    obs = {s.name: RNG.normal(size=(batch, *s.shape)).astype(np.float32) for s in SENSES}
    state = [RNG.normal(size=(batch, size)).astype(np.float32) for size in net.state_sizes()]
    return obs, state


@pytest.mark.parametrize("distribution", list(SPACES))
@pytest.mark.parametrize("model", ["ffn", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("architecture", ["simple", "deeper", "wider", "shadow"])
def test_numpy_acting_matches_the_keras_model(architecture, model, distribution):
    """params, value and new state to 1e-5, and the TF log-prob of the numpy-sampled actions,
    after the weights moved away from their initial values (re-read through set_weights)."""
    dist = get_distribution(distribution, SPACES[distribution])
    config = make_config(architecture=architecture, model=model, shared=architecture == "deeper")
    net = build_model(config, SENSES, dist)
    policy = Policy(net, dist, seed=0)
    assert policy.fast is not None
    net.set_weights([w + RNG.normal(size=w.shape).astype(np.float32) * 0.3 for w in net.get_weights()])
    obs, state = _inputs(net)
    reset = np.array([0, 1, 0, 0, 1], np.float32)
    actions, log_probs, values, new_state = policy.act(obs, state, reset)
    keep = 1.0 - reset[:, None]
    params, value, expected_state = net.step({k: tf.constant(v) for k, v in obs.items()},
                                             [tf.constant(s * keep) for s in state])
    np.testing.assert_allclose(values, value.numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(new_state, expected_state):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(policy.fast.step(obs, state, reset)[0], params.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_probs, dist.log_prob(params, tf.constant(actions)).numpy(), rtol=1e-5, atol=1e-5)
    modes = policy.act(obs, state, reset, deterministic=True)[0]
    np.testing.assert_allclose(modes, dist.mode(params).numpy(), rtol=1e-5, atol=1e-5)
    assert actions.dtype == dist.action_dtype and actions.shape == (5, *dist.action_shape)


def test_log_probs_of_a_rollout_agree_with_the_learner():
    """Acting in numpy and learning in TensorFlow see the same policy: the PPO ratio of the first
    minibatch is 1 (recurrent model, beta distribution, episode starts inside the sequences)."""
    config = make_config(architecture="shadow", model="gru", distribution="beta", workers=2, horizon=16, tbptt=8,
                         batch_size=16, sequential=True)
    with EnvPool("Pendulum-v1", 2, seed=0, sequential=True, env_kwargs={"max_episode_steps": 10}) as pool:
        dist = get_distribution("beta", pool.action_space)
        policy = Policy(build_model(config, pool.senses, dist), dist, seed=0)
        assert policy.fast is not None
        learner = Learner(policy, config, Comm(), seed=0)
        gatherer = Gatherer(pool, policy, make_transformer("state_normaliser", pool.senses, config), None, 16)
        for _ in range(2):  # the second rollout acts with the weights after one optimisation
            rollout = gatherer.gather()
            rollout.compute_advantages(0.99, 0.95)
            data = learner.prepare(rollout)
            params, values = learner._unroll(data)
            log_probs = dist.log_prob(params, tf.reshape(data["actions"], [-1, dist.dims]))
            np.testing.assert_allclose(values.numpy(), data["values"].numpy().reshape(-1), rtol=1e-5, atol=1e-5)
            ratio = np.exp(log_probs.numpy() - data["log_probs"].numpy().reshape(-1))
            np.testing.assert_allclose(ratio, 1.0, atol=1e-5)
            assert rollout.resets[1:].any()
            before = [w.copy() for w in policy.model.get_weights()]
            learner.optimise(rollout, 1e-3)
            assert any(not np.array_equal(a, b) for a, b in zip(before, policy.model.get_weights()))


# ---- what stays on TensorFlow ----------------------------------------------------------------------

def test_custom_parts_keep_the_tensorflow_path(monkeypatch):
    class Overriding(Gaussian):
        def sample(self, params, generator):
            return super().sample(params, generator) * 0.0

    dist = Overriding(gym.spaces.Box(-1, 1, (2,)))
    assert not dist.has_numpy_twins
    assert Policy(build_model(make_config(), SENSES, dist), dist, seed=0).fast is None
    images = [Sense("vision", (36, 36, 3), "uint8", True), SENSES[1]]
    gaussian = get_distribution("gaussian", gym.spaces.Box(-1, 1, (2,)))
    assert Policy(build_model(make_config(), images, gaussian), gaussian, seed=0).fast is None
    monkeypatch.setenv("DEXTERITY_INFERENCE", "tf")
    assert Policy(build_model(make_config(), SENSES, gaussian), gaussian, seed=0).fast is None


def test_a_twin_that_disagrees_is_not_used(monkeypatch):
    gaussian = get_distribution("gaussian", gym.spaces.Box(-1, 1, (2,)))
    net = build_model(make_config(), SENSES, gaussian)
    monkeypatch.setattr(numpy_ops, "ACTIVATIONS", {**numpy_ops.ACTIVATIONS, "tanh": lambda x: x})
    with pytest.warns(RuntimeWarning, match="differs from the Keras model"):
        assert NumpyPolicy.create(net, gaussian, seed=0) is None


def test_rng_state_round_trip_repeats_the_samples():
    dist = get_distribution("gaussian", BOX)
    policy = Policy(build_model(make_config(), SENSES, dist), dist, seed=4)
    obs, _ = _inputs(policy.model)
    saved = policy.rng_state()
    first = policy.act(obs, [], np.zeros(5, np.float32))[0]
    policy.set_rng_state(saved)
    np.testing.assert_array_equal(policy.act(obs, [], np.zeros(5, np.float32))[0], first)
    policy.set_rng_state(saved["tf"])  # a checkpoint of before numpy inference: TF stream only
    policy.reseed(4)
    np.testing.assert_array_equal(policy.act(obs, [], np.zeros(5, np.float32))[0], first)


# ---- threads -------------------------------------------------------------------------------------

def _blas_threads():
    from threadpoolctl import threadpool_info
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_the_forward_pass_runs_on_one_blas_thread(monkeypatch):
    """Every dense layer of the shadow GRU model runs with numpy's BLAS on one thread; the pool's
    size is back afterwards."""
    from threadpoolctl import threadpool_limits
    if not _blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library to control")
    seen = []
    dense = numpy_ops.dense
    monkeypatch.setattr(numpy_ops, "dense", lambda *a: (seen.append(_blas_threads()), dense(*a))[1])
    dist = get_distribution("beta", BOX)
    policy = Policy(build_model(make_config(architecture="shadow", model="gru"), SENSES, dist), dist, seed=0)
    obs, state = _inputs(policy.model)
    with threadpool_limits(2, user_api="blas"):
        seen.clear()
        policy.act(obs, state, np.zeros(5, np.float32))
        assert seen and all(threads == {1} for threads in seen)
        assert _blas_threads() == {2}
        with policy.fast.one_blas_thread:  # re-entrant: the inner exit leaves one thread, the outer restores
            policy.act(obs, state, np.zeros(5, np.float32))
            assert _blas_threads() == {1}
        assert _blas_threads() == {2}


@pytest.mark.parametrize("batch", [128, 256])  # below ~100 rows OpenBLAS does not thread at all
def test_one_blas_thread_gives_bitwise_the_threaded_matmuls(batch):
    """Trajectories do not depend on the thread count: x @ w at the shadow model's layer shapes (inputs
    203 = 112 + 48 + 32 + 7 + 4, widths up to 256, GRU gates 384) equals the two-thread product bit for bit."""
    from threadpoolctl import threadpool_limits
    from dexterity.agent.numpy_policy import OneBlasThread
    one_blas_thread = OneBlasThread()
    rng = np.random.default_rng(batch)
    for inputs, units in ((203, 256), (256, 128), (160, 128), (128, 384), (128, 64), (128, 1)):
        x = rng.normal(size=(batch, inputs)).astype(np.float32)
        w = rng.normal(size=(inputs, units)).astype(np.float32)
        with threadpool_limits(2, user_api="blas"):
            threaded = x @ w
            with one_blas_thread:
                single = x @ w
        np.testing.assert_array_equal(single, threaded)
