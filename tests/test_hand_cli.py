"""CLI smoke on the Shadow Hand tasks: train.py with the shadow architecture, reward configs, observe.py videos."""
import json

from tests.conftest import progress_records, run_script

SMALL = ("--workers", "2", "--horizon", "32", "--batch-size", "32", "--tbptt", "8", "--epochs", "1",
         "--iterations", "2", "--seed", "5")


def _only_agent(storage):
    (agent_id,) = [p.name for p in (storage / "saved_models").iterdir()]
    return agent_id, json.loads((storage / "experiments" / agent_id / "meta.json").read_text())


def test_reach_with_shadow_gru_and_a_gif_every_cycle(storage):
    proc = run_script("train.py", "ReachAbsolute-v0", "--architecture", "shadow", "--model", "gru",
                      "--gif-every", "2", *SMALL)
    assert "shadow/gru" in proc.stdout and "preset hand" in proc.stdout
    agent_id, meta = _only_agent(storage)
    assert meta["config"]["architecture"] == "shadow" and meta["reward_config"]["values"]["success_distance"] == 0.02
    assert [r["iteration"] for r in progress_records(storage, agent_id)] == [0, 1]
    assert (storage / "experiments" / agent_id / "gifs" / "2.gif").stat().st_size > 1000


def test_manipulate_preset_with_penalized_force_then_observe_gif(storage):
    proc = run_script("train.py", "ManipulateBlock-v0", "--rcon", "manipulate.penalized_force", *SMALL)
    assert "preset manipulate" in proc.stdout and "shadow/gru" in proc.stdout and "beta" in proc.stdout
    agent_id, meta = _only_agent(storage)
    assert meta["reward_config"]["name"] == "manipulate.penalized_force"
    assert meta["reward_config"]["values"]["force_multiplier"] == 0.1
    assert len(progress_records(storage, agent_id)) == 2
    out = storage / "block.gif"
    run_script("observe.py", agent_id, "--output", str(out), "--max-steps", "15")
    assert out.stat().st_size > 1000 and out.read_bytes()[:3] == b"GIF"
    evaluated = run_script("evaluate.py", agent_id, "-n", "2", "--workers", "2").stdout
    assert "consecutive goals" in evaluated and "success rate" in evaluated
    evaluation = json.loads((storage / "experiments" / agent_id / "evaluations.jsonl").read_text().splitlines()[-1])
    assert evaluation["episodes"] == 2 and "consecutive_goals" in evaluation


def test_discrete_block_with_multi_categorical_then_observe_mp4(storage):
    proc = run_script("train.py", "ManipulateBlockDiscrete-v0", "--distribution", "multi-categorical", *SMALL)
    assert "multi-categorical" in proc.stdout
    agent_id, meta = _only_agent(storage)
    assert meta["distribution"] == "multi-categorical" and meta["config"]["architecture"] == "shadow"
    out = storage / "block.mp4"
    proc = run_script("observe.py", agent_id, "--output", str(out), "--max-steps", "15", "--stochastic")
    assert out.stat().st_size > 1000 and out.read_bytes()[4:8] == b"ftyp"
    assert "stochastic" in proc.stdout
