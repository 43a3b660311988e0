"""Learning threshold: CartPole-v1 is solved (mean return >= 475) within 100k steps with a fixed seed."""
import json

from conftest import run_script


def test_cartpole_reaches_475_within_100k_steps(storage):
    proc = run_script("train.py", "CartPole-v1", "--pcon", "discrete", "--iterations", "97", "--seed", "1",
                      "--stop-early", "--no-state-norming")
    assert "reward threshold 475.0 reached" in proc.stdout, proc.stdout[-2000:]
    agent_id = next((storage / "experiments").iterdir()).name
    records = [json.loads(line) for line in (storage / "experiments" / agent_id / "progress.jsonl").open()]
    assert records[-1]["frames"] <= 100_000
    assert sum(r["rollout/return_mean"] for r in records[-5:]) / 5 >= 475
