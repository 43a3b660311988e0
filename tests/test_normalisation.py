"""Observation normalisation has one owner (StateNormaliser): the numpy path (training, acting) and the
exported TensorFlow model give the same normalised observation, and both match a hand-built formula,
so neither can change its clip or epsilon alone."""
import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from dexterity.agent import checkpoint as ckpt
from dexterity.agent.export import TF_OPS, export_policy
from dexterity.configs.hp_config import make_config
from dexterity.spaces import Sense, observation_layout
from dexterity.transformers import StateNormaliser

CLIP = 4.0  # not the default 10: a path that ignored the configured clip would show
SPACE = gym.spaces.Dict({"joints": gym.spaces.Box(-np.inf, np.inf, (6,), np.float32),
                         "touch": gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)})


def _statistics(rng, shape):
    """Non-trivial moments: large means, variances from 1e-11 (epsilon dominates) to 1e4."""
    var = 10.0 ** rng.uniform(-11, 4, size=shape)
    var.flat[0] = 0.0  # a constant input: only epsilon keeps the division finite
    return {"count": 1234.0, "mean": rng.normal(100.0, 50.0, size=shape).tolist(), "var": var.tolist()}


def _normaliser(senses, rng, clip=CLIP):
    norm = StateNormaliser(senses, clip=clip)
    norm.load_state_dict({s.name: _statistics(rng, s.shape) for s in senses if not s.is_image})
    return norm


def _raw(senses, norm, rng, batch=64):
    """Observations around the means, spread so that some are clipped and some are not."""
    obs = {}
    for s in senses:
        if s.is_image:
            obs[s.name] = rng.integers(0, 256, size=(batch, *s.shape)).astype(np.uint8)
        else:
            _, mean, var = norm.moments()[s.name].moments
            scale = np.sqrt(var) * 8 + 1e-4
            obs[s.name] = (mean + rng.normal(size=(batch, *s.shape)) * scale).astype(np.float32)
    return obs


def _by_hand(senses, norm, obs, clip, epsilon):
    """The documented formula written out: clip((x - mean) / sqrt(var + epsilon), +-clip); images / 255."""
    out = {}
    for s in senses:
        x = obs[s.name].astype(np.float64)
        if s.is_image:
            out[s.name] = x / 255.0
        else:
            _, mean, var = norm.moments()[s.name].moments
            out[s.name] = np.minimum(np.maximum((x - mean) / np.sqrt(var + epsilon), -clip), clip)
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(brain with non-trivial normaliser statistics, its exported SavedModel loaded back)."""
    senses = observation_layout(SPACE)
    config = make_config(obs_clip=CLIP, seed=1)
    brain = ckpt.build_brain(config, senses, SPACE, gym.spaces.Discrete(3), seed=1)
    brain.state_norm.load_state_dict(_normaliser(senses, np.random.default_rng(0)).state_dict())
    path = export_policy(brain, tmp_path_factory.mktemp("export") / "policy")
    return brain, tf.saved_model.load(str(path))


def test_exported_model_normalises_like_the_numpy_path(exported):
    brain, module = exported
    rng = np.random.default_rng(1)
    raw = _raw(brain.senses, brain.state_norm, rng)
    numpy_path = brain.state_norm.transform(raw)
    tf_path = {k: v.numpy() for k, v in module.normalise(raw).items()}
    assert sorted(tf_path) == sorted(numpy_path)
    for key, value in numpy_path.items():
        assert np.abs(value).max() == CLIP and 0 < np.mean(np.abs(value) == CLIP) < 0.9  # clipping matters
        np.testing.assert_allclose(tf_path[key], value, rtol=0, atol=1e-6, err_msg=key)


def test_both_paths_match_the_formula_so_neither_changes_clip_or_epsilon_alone(exported):
    brain, module = exported
    raw = _raw(brain.senses, brain.state_norm, np.random.default_rng(2))
    want = _by_hand(brain.senses, brain.state_norm, raw, CLIP, 1e-8)
    # the test data would notice a change: another epsilon or clip moves the expected values
    for other in (_by_hand(brain.senses, brain.state_norm, raw, CLIP, 1e-6),
                  _by_hand(brain.senses, brain.state_norm, raw, 10.0, 1e-8)):
        assert max(np.abs(other[k] - want[k]).max() for k in want) > 1e-2
    numpy_path = brain.state_norm.transform(raw)
    tf_path = {k: v.numpy() for k, v in module.normalise(raw).items()}
    for key in want:
        np.testing.assert_allclose(numpy_path[key], want[key], rtol=0, atol=1e-6, err_msg=f"numpy {key}")
        np.testing.assert_allclose(tf_path[key], want[key], rtol=0, atol=1e-6, err_msg=f"exported {key}")


def test_exported_actions_read_the_normalised_observation(exported):
    """act() of the export feeds the model what normalise() returns: its params equal the model's on it."""
    brain, module = exported
    raw = _raw(brain.senses, brain.state_norm, np.random.default_rng(3), batch=8)
    out = module.act(raw, [])
    params, _, _ = brain.policy.model.step(brain.state_norm.transform(raw), [])
    np.testing.assert_allclose(out["params"].numpy(), params.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("clip, epsilon", [(CLIP, 1e-8), (2.5, 1e-3)])
def test_tensorflow_ops_follow_the_owners_clip_and_epsilon(monkeypatch, clip, epsilon):
    """The TF path has no constants of its own: change the owner's and both paths follow (images too)."""
    monkeypatch.setattr(StateNormaliser, "EPSILON", epsilon)
    senses = [Sense("v", (5,), "float32", False), Sense("m", (2,), "float32", False),
              Sense("img", (4, 4, 3), "uint8", True)]
    rng = np.random.default_rng(4)
    norm = _normaliser(senses, rng, clip=clip)
    raw = _raw(senses, norm, rng)
    want = _by_hand(senses, norm, raw, clip, epsilon)
    tf_path = norm.apply({k: tf.constant(v) for k, v in raw.items()}, norm.scales(), TF_OPS)
    numpy_path = norm.transform(raw)
    for key in want:
        np.testing.assert_allclose(numpy_path[key], want[key], rtol=0, atol=1e-6, err_msg=f"numpy {key}")
        np.testing.assert_allclose(tf_path[key].numpy(), want[key], rtol=0, atol=1e-6, err_msg=f"tf {key}")
        assert tf_path[key].dtype == tf.float32 and numpy_path[key].dtype == np.float32


def test_disabled_normaliser_passes_vectors_through_in_both_paths():
    senses = [Sense("v", (3,), "float32", False)]
    norm = StateNormaliser(senses, enabled=False)
    raw = {"v": np.array([[1e6, -3.5, 0.25]], np.float32)}
    assert norm.scales() == {}
    np.testing.assert_array_equal(norm.transform(raw)["v"], raw["v"])
    np.testing.assert_array_equal(norm.apply({"v": tf.constant(raw["v"])}, {}, TF_OPS)["v"].numpy(), raw["v"])
