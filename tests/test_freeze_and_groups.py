"""--freeze-components (weights fixed during RL, saved and resumed frozen) and --experiment-group (meta.json)."""
import json
import types

import numpy as np
import pytest

from conftest import run_script

SMALL = dict(workers=2, horizon=32, batch_size=32, epochs=2, sequential=True, seed=3)
FLAGS = ["--iterations", "2", "--workers", "2", "--horizon", "32", "--batch-size", "32", "--epochs", "2",
         "--seed", "1", "--sequential"]


def _fake_model(*names):
    return types.SimpleNamespace(layers=[types.SimpleNamespace(name=n, weights=[n]) for n in names])


def test_component_names_select_layers_by_name_or_prefix():
    from dexterity.agent.freezing import component_names, parse_components, selects
    from dexterity.errors import ConfigError
    assert parse_components(" visual_encoder, policy_gru ,,") == ["visual_encoder", "policy_gru"]
    assert parse_components(None) == [] and parse_components("") == []
    with pytest.raises(ConfigError, match="not a component name"):
        parse_components("a b")
    assert selects("visual_encoder", "visual_encoder_conv1") and selects("policy_gru", "policy_gru")
    assert not selects("policy", "policyx_dense0") and not selects("policy_d", "policy_dense0")
    model = _fake_model("visual_encoder_conv1", "policy_head")
    assert component_names(model) == ["visual", "visual_encoder", "visual_encoder_conv1", "policy", "policy_head"]


def _weights(agent):
    return {v.path: np.array(v.numpy()) for v in agent.policy.model.variables}


def test_frozen_weights_stay_fixed_through_training_and_resume(storage):
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=True)
    from dexterity.agent.ppo import PPOAgent
    from dexterity.configs.hp_config import make_config
    config = make_config(**SMALL, iterations=2, freeze_components="policy_dense0")
    with PPOAgent("CartPole-v1", config, verbose=False) as agent:
        before = _weights(agent)
        frozen = [p for p in before if p.startswith("policy_dense0/")]
        assert len(frozen) == 2  # kernel and bias
        agent.drill()
        after, agent_id = _weights(agent), agent.agent_id
    assert all(np.array_equal(before[p], after[p]) for p in frozen)
    kernels = [p for p in before if p.endswith("kernel") and p not in frozen]
    assert kernels and all(not np.array_equal(before[p], after[p]) for p in kernels), "others must train"
    info = json.loads((storage / "saved_models" / agent_id / "last" / "agent.json").read_text())
    assert info["config"]["freeze_components"] == "policy_dense0"
    with PPOAgent.resume(agent_id, {"iterations": 3}, verbose=False) as resumed:  # frozen as saved
        assert not any(v.trainable for v in resumed.policy.model.variables if v.path in frozen)
        resumed.drill()
        again = _weights(resumed)
    assert all(np.array_equal(before[p], again[p]) for p in frozen)
    with PPOAgent.resume(agent_id, {"iterations": 4, "freeze_components": None}, verbose=False) as thawed:
        thawed.drill()  # unfrozen on request: the optimizer starts afresh, the layer trains
        assert not np.array_equal(before[frozen[0]], _weights(thawed)[frozen[0]])


def test_freezing_everything_or_nothing_known_is_a_config_error():
    from dexterity import tf_setup
    tf_setup.tensorflow(cpu=True)
    import gymnasium as gym
    from dexterity.agent.checkpoint import build_brain
    from dexterity.configs.hp_config import make_config
    from dexterity.errors import ConfigError
    from dexterity.spaces import observation_layout
    box = gym.spaces.Box(-1, 1, (4,))
    spaces = (observation_layout(box), box, gym.spaces.Discrete(2))
    with pytest.raises(ConfigError, match="'nope' names no layer with weights.*known: policy, policy_dense0"):
        build_brain(make_config(freeze_components="nope"), *spaces, seed=0)
    with pytest.raises(ConfigError, match="nothing left to train"):
        build_brain(make_config(freeze_components="policy,value"), *spaces, seed=0)


def test_train_cli_group_in_meta_kept_on_resume_and_bad_names(storage):
    run_script("train.py", "CartPole-v1", *FLAGS, "--experiment-group", "lr-sweep/3e-4",
               "--freeze-components", "value_dense0")
    agent_id = next((storage / "experiments").iterdir()).name
    meta_path = storage / "experiments" / agent_id / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["experiment_group"] == "lr-sweep/3e-4" and meta["config"]["freeze_components"] == "value_dense0"
    run_script("train.py", "--load-from", agent_id, "--iterations", "3")
    assert json.loads(meta_path.read_text())["experiment_group"] == "lr-sweep/3e-4"
    bad = run_script("train.py", "CartPole-v1", "--experiment-group", "no spaces", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("error: --experiment-group 'no spaces' is not a group name")
    bad = run_script("train.py", "CartPole-v1", *FLAGS, "--freeze-components", "nope", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: --freeze-components: 'nope' names no layer")
