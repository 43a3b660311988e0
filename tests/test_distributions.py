"""Policy distributions against scipy / closed forms, sampling, heads, env mapping and the registry."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, special, stats

from dexterity.distributions import (HEAD_GAIN, BasePolicyDistribution, Beta, Categorical, Gaussian, MultiCategorical,
                                     default_distribution, get_distribution, list_distributions,
                                     register_distribution)
from dexterity.errors import ConfigError

BOX = gym.spaces.Box(low=np.array([-1.0, 0.0, -3.0], np.float32), high=np.array([1.0, 2.0, 5.0], np.float32))
RNG = np.random.default_rng(0)


def _t(x: np.ndarray) -> tf.Tensor:
    return tf.constant(np.asarray(x, np.float32))


def _all_distributions() -> list[BasePolicyDistribution]:
    return [get_distribution("categorical", gym.spaces.Discrete(5)),
            get_distribution("multi-categorical", gym.spaces.MultiDiscrete([3, 5, 2])),
            get_distribution("multi-categorical", BOX, bins=7),
            get_distribution("gaussian", BOX),
            get_distribution("beta", BOX)]


# ---------------------------------------------------------------- closed forms
def test_categorical_against_numpy() -> None:
    dist = Categorical(gym.spaces.Discrete(4))
    logits_p, logits_q = RNG.normal(size=(6, 4)) * 2, RNG.normal(size=(6, 4))
    actions = RNG.integers(0, 4, size=6)
    p, q = special.softmax(logits_p, axis=-1), special.softmax(logits_q, axis=-1)
    np.testing.assert_allclose(dist.log_prob(_t(logits_p), tf.constant(actions, tf.int32)),
                               np.log(p[np.arange(6), actions]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dist.entropy(_t(logits_p)), -(p * np.log(p)).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(dist.kl(_t(logits_p), _t(logits_q)), (p * np.log(p / q)).sum(-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(dist.mode(_t(logits_p)), logits_p.argmax(-1))


def test_multi_categorical_is_sum_of_categoricals_with_padding() -> None:
    nvec = [3, 5, 2]
    dist = MultiCategorical(gym.spaces.MultiDiscrete(nvec))
    assert dist.param_size == 15 and dist.action_shape == (3,)
    params_p, params_q = RNG.normal(size=(4, 15)), RNG.normal(size=(4, 15))
    actions = np.stack([RNG.integers(0, n, size=4) for n in nvec], axis=1)
    log_prob = entropy = kl = 0.0
    for i, n in enumerate(nvec):
        p = special.softmax(params_p[:, i * 5:i * 5 + n], axis=-1)
        q = special.softmax(params_q[:, i * 5:i * 5 + n], axis=-1)
        log_prob = log_prob + np.log(p[np.arange(4), actions[:, i]])
        entropy = entropy - (p * np.log(p)).sum(-1)
        kl = kl + (p * np.log(p / q)).sum(-1)
    np.testing.assert_allclose(dist.log_prob(_t(params_p), tf.constant(actions, tf.int32)), log_prob, rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(_t(params_p)), entropy, rtol=1e-5)
    np.testing.assert_allclose(dist.kl(_t(params_p), _t(params_q)), kl, rtol=1e-4, atol=1e-6)
    padded = params_p.copy()
    padded[:, 3:5] = 50.0  # logits of categories dimension 0 does not have
    np.testing.assert_allclose(dist.entropy(_t(padded)), entropy, rtol=1e-5)
    assert np.all(dist.mode(_t(padded)).numpy()[:, 0] < 3)


def test_gaussian_against_scipy() -> None:
    dist = Gaussian(BOX)
    mean, log_std = RNG.normal(size=(5, 3)), RNG.uniform(-1.5, 1.0, size=(5, 3))
    params = np.concatenate([mean, log_std], -1)
    actions = RNG.normal(size=(5, 3)) * 2
    np.testing.assert_allclose(dist.log_prob(_t(params), _t(actions)),
                               stats.norm.logpdf(actions, mean, np.exp(log_std)).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(_t(params)), stats.norm.entropy(mean, np.exp(log_std)).sum(-1), rtol=1e-5)
    np.testing.assert_array_equal(dist.mode(_t(params)), mean.astype(np.float32))


def _kl_by_integration(p: stats.rv_continuous, q: stats.rv_continuous, lo: float, hi: float) -> float:
    return integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), lo, hi, limit=200)[0]


def test_gaussian_kl_by_integration() -> None:
    dist = Gaussian(gym.spaces.Box(-1, 1, (2,)))
    params_p, params_q = np.array([[0.3, -1.0, 0.2, -0.5]]), np.array([[-0.4, 0.5, -0.3, 0.1]])
    expected = sum(_kl_by_integration(stats.norm(params_p[0, i], np.exp(params_p[0, 2 + i])),
                                      stats.norm(params_q[0, i], np.exp(params_q[0, 2 + i])), -20, 20)
                   for i in range(2))
    np.testing.assert_allclose(dist.kl(_t(params_p), _t(params_q)), [expected], rtol=1e-4)


def test_beta_against_scipy() -> None:
    dist = Beta(BOX)
    alpha, beta = RNG.uniform(0.5, 6, size=(5, 3)), RNG.uniform(0.5, 6, size=(5, 3))
    params = np.concatenate([alpha, beta], -1)
    actions = RNG.uniform(0.01, 0.99, size=(5, 3))
    np.testing.assert_allclose(dist.log_prob(_t(params), _t(actions)),
                               stats.beta.logpdf(actions, alpha, beta).sum(-1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dist.entropy(_t(params)), stats.beta.entropy(alpha, beta).sum(-1), rtol=1e-4, atol=1e-5)


def test_beta_kl_by_integration_and_mode() -> None:
    dist = Beta(gym.spaces.Box(0, 1, (2,)))
    params_p, params_q = np.array([[2.0, 1.5, 3.0, 4.0]]), np.array([[1.2, 5.0, 2.5, 1.3]])
    expected = sum(_kl_by_integration(stats.beta(params_p[0, i], params_p[0, 2 + i]),
                                      stats.beta(params_q[0, i], params_q[0, 2 + i]), 0, 1) for i in range(2))
    np.testing.assert_allclose(dist.kl(_t(params_p), _t(params_q)), [expected], rtol=1e-4)
    # mode (a-1)/(a+b-2) where a, b > 1; the mean where not
    np.testing.assert_allclose(dist.mode(_t([[3.0, 0.5, 2.0, 0.5]])), [[2.0 / 3.0, 0.5]], rtol=1e-6)


def test_kl_of_identical_params_is_zero() -> None:
    for dist in _all_distributions():
        params = _t(RNG.uniform(1.1, 3.0, size=(4, dist.param_size)))
        np.testing.assert_allclose(dist.kl(params, params), np.zeros(4), atol=1e-5)


def test_extreme_params_stay_finite() -> None:
    gaussian, beta, categorical = Gaussian(BOX), Beta(BOX), Categorical(gym.spaces.Discrete(3))
    g_params = _t([[1e4, -1e4, 0.0, -100.0, 100.0, -30.0], [0.0, 0.0, 0.0, 5.0, -5.0, 0.0]])
    b_params = _t([[1e-9, 1e4, 1.0, 1e4, 1e-9, 1.0], [0.0, 1e6, 1e6, 0.0, 1.0, 1.0]])
    c_params = _t([[1e4, -1e4, 0.0], [-1e30, 0.0, 1e30]])
    checks = [(gaussian, g_params, _t([[-1e4, 1e4, 1e3]] * 2)), (beta, b_params, _t([[0.0, 1.0, 0.5]] * 2)),
              (categorical, c_params, tf.constant([1, 0]))]
    for dist, params, actions in checks:
        with tf.GradientTape() as tape:
            tape.watch(params)
            log_prob = dist.log_prob(params, actions)
        values = [log_prob, dist.entropy(params), dist.kl(params, params[::-1]), tape.gradient(log_prob, params)]
        for value in values:
            assert np.all(np.isfinite(value.numpy())), (dist.name, value)


# ---------------------------------------------------------------- sampling
def test_sample_statistics() -> None:
    n = 20000
    generator = tf.random.Generator.from_seed(7)
    gaussian = Gaussian(gym.spaces.Box(-1, 1, (2,)))
    samples = gaussian.sample(_t(np.tile([[1.0, -2.0, np.log(0.5), 0.0]], (n, 1))), generator).numpy()
    np.testing.assert_allclose(samples.mean(0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(samples.std(0), [0.5, 1.0], rtol=0.03)
    beta = Beta(gym.spaces.Box(-1, 1, (2,)))
    samples = beta.sample(_t(np.tile([[2.0, 0.5, 5.0, 0.5]], (n, 1))), generator).numpy()
    np.testing.assert_allclose(samples.mean(0), [2.0 / 7.0, 0.5], atol=0.01)
    assert samples.min() > 0.0 and samples.max() < 1.0
    logits = np.log([0.1, 0.2, 0.7])
    samples = Categorical(gym.spaces.Discrete(3)).sample(_t(np.tile(logits, (n, 1))), generator).numpy()
    counts = np.bincount(samples, minlength=3)
    np.testing.assert_allclose(counts / n, [0.1, 0.2, 0.7], atol=0.015)
    multi = MultiCategorical(gym.spaces.MultiDiscrete([2, 3]))
    samples = multi.sample(_t(np.tile(np.log([0.25, 0.75, 1e-12, 0.5, 0.3, 0.2]), (n, 1))), generator).numpy()
    np.testing.assert_allclose(np.bincount(samples[:, 0], minlength=2) / n, [0.25, 0.75], atol=0.015)
    np.testing.assert_allclose(np.bincount(samples[:, 1], minlength=3) / n, [0.5, 0.3, 0.2], atol=0.015)


def test_sampling_in_tf_function_is_deterministic() -> None:
    for dist in _all_distributions():
        params = _t(RNG.uniform(1.0, 2.0, size=(8, dist.param_size)))
        sample = tf.function(dist.sample)
        runs = []
        for seed in (3, 3, 4):
            generator = tf.random.Generator.from_seed(seed)
            runs.append(np.concatenate([sample(params, generator).numpy().reshape(8, -1) for _ in range(2)]))
        np.testing.assert_array_equal(runs[0], runs[1])
        assert not np.array_equal(runs[0], runs[2]), dist.name
        assert runs[0].shape == (16, int(np.prod(dist.action_shape)))
        assert sample(params, generator).dtype.as_numpy_dtype == dist.action_dtype


# ---------------------------------------------------------------- env mapping
def test_gaussian_to_env_clips_without_touching_stored_actions() -> None:
    dist = Gaussian(BOX)
    stored = np.array([[-5.0, 0.5, 9.0], [0.2, -1.0, -4.0]], np.float32)
    kept = stored.copy()
    np.testing.assert_array_equal(dist.to_env(stored), np.float32([[-1.0, 0.5, 5.0], [0.2, 0.0, -3.0]]))
    np.testing.assert_array_equal(stored, kept)


def test_beta_to_env_rescales() -> None:
    out = Beta(BOX).to_env(np.array([[0.0, 0.5, 1.0], [1.0, 0.25, 0.0]], np.float32))
    np.testing.assert_allclose(out, [[-1.0, 1.0, 5.0], [1.0, 0.5, -3.0]], rtol=1e-6)


def test_multi_categorical_to_env() -> None:
    box = MultiCategorical(BOX, bins=5)
    out = box.to_env(np.array([[0, 2, 4], [4, 1, 3]]))
    expected = np.stack([np.linspace(lo, hi, 5) for lo, hi in zip(BOX.low, BOX.high)])  # [A, bins]
    np.testing.assert_allclose(out, [expected[[0, 1, 2], [0, 2, 4]], expected[[0, 1, 2], [4, 1, 3]]], rtol=1e-6)
    assert out.dtype == np.float32
    multi = MultiCategorical(gym.spaces.MultiDiscrete([3, 4], start=[1, -2]))
    np.testing.assert_array_equal(multi.to_env(np.array([[0, 3], [2, 0]])), [[1, 1], [3, -2]])


def test_categorical_and_shaped_box_to_env() -> None:
    np.testing.assert_array_equal(Categorical(gym.spaces.Discrete(4, start=2)).to_env(np.array([0, 3])), [2, 5])
    dist = Gaussian(gym.spaces.Box(-1, 1, (2, 2)))
    assert dist.action_shape == (4,)
    assert dist.to_env(np.zeros((3, 4), np.float32)).shape == (3, 2, 2)


# ---------------------------------------------------------------- heads
def _assert_orthogonal(kernel: np.ndarray) -> None:
    gram = kernel.T @ kernel if kernel.shape[0] >= kernel.shape[1] else kernel @ kernel.T
    np.testing.assert_allclose(gram, HEAD_GAIN ** 2 * np.eye(len(gram)), atol=1e-7)


def test_heads_shapes_and_init() -> None:
    features = _t(RNG.normal(size=(5, 16)))
    for dist in _all_distributions():
        head = dist.build_head("policy_head")
        params = head(features).numpy()
        assert params.shape == (5, dist.param_size) and params.dtype == np.float32
        kernels = [w.numpy() for w in head.weights if w.path.endswith("kernel")]
        biases = [w.numpy() for w in head.weights if w.path.endswith("bias")]
        assert len(kernels) == 1 and len(biases) == 1
        _assert_orthogonal(kernels[0])
        np.testing.assert_array_equal(biases[0], 0.0)
        assert all(w.path.startswith("policy_head/") for w in head.weights)


def test_gaussian_head_log_std_and_beta_head_range() -> None:
    head = Gaussian(BOX).build_head()
    params = head(_t(RNG.normal(size=(4, 6)))).numpy()
    log_std = [w for w in head.weights if w.path.endswith("log_std")]
    assert len(log_std) == 1 and log_std[0].trainable and log_std[0].shape == (3,)
    np.testing.assert_array_equal(params[:, 3:], 0.0)
    log_std[0].assign([0.1, 0.2, 0.3])
    np.testing.assert_allclose(head(_t(np.zeros((2, 6)))).numpy()[:, 3:], [[0.1, 0.2, 0.3]] * 2)
    beta_params = Beta(BOX).build_head()(_t(RNG.normal(size=(4, 6)) * 1e3)).numpy()
    assert np.all(beta_params >= 1.0)
    np.testing.assert_allclose(Beta(BOX).build_head()(_t(np.zeros((1, 6)))).numpy(), 1.0 + np.log(2.0), rtol=1e-6)


# ---------------------------------------------------------------- registry and errors
def test_default_distribution_per_space() -> None:
    assert isinstance(default_distribution(gym.spaces.Discrete(3)), Categorical)
    assert isinstance(default_distribution(gym.spaces.MultiDiscrete([2, 2])), MultiCategorical)
    assert isinstance(default_distribution(BOX), Gaussian)
    with pytest.raises(ConfigError):
        default_distribution(gym.spaces.MultiBinary(3))
    for dist in _all_distributions():
        assert dist.action_dtype == (np.float32 if dist.is_continuous else np.int32)
    assert Categorical(gym.spaces.Discrete(3)).action_shape == ()


@pytest.mark.parametrize("name, space, options", [
    ("beta", gym.spaces.Discrete(3), {}), ("gaussian", gym.spaces.Discrete(3), {}),
    ("categorical", BOX, {}), ("beta", gym.spaces.Box(-np.inf, np.inf, (2,)), {}),
    ("multi-categorical", BOX, {"bins": 1}), ("multi-categorical", gym.spaces.MultiBinary(2), {})])
def test_incompatible_space_raises_config_error(name: str, space: gym.spaces.Space, options: dict) -> None:
    with pytest.raises(ConfigError, match=name):
        get_distribution(name, space, **options)


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ConfigError, match="gaussian") as info:
        get_distribution("gausian", BOX)
    assert all(name in str(info.value) for name in ("beta", "categorical", "multi-categorical"))


def test_custom_subclass_registry() -> None:
    @register_distribution("test-deterministic")
    class Deterministic(Gaussian):
        def sample(self, params: tf.Tensor, generator: tf.random.Generator) -> tf.Tensor:
            return self.mode(params)

    assert "test-deterministic" in list_distributions()
    dist = get_distribution("test-deterministic", BOX)
    assert isinstance(dist, Deterministic) and dist.name == "test-deterministic"
    assert get_distribution("gaussian", BOX).name == "gaussian"

    class Incomplete(BasePolicyDistribution):
        def build_head(self, name: str = "policy_head") -> None:
            return None

    with pytest.raises(TypeError):
        Incomplete(BOX)
    with pytest.raises(TypeError):
        register_distribution("not-a-distribution")(int)
    with pytest.raises(ConfigError):
        register_distribution("gaussian")(Deterministic)
