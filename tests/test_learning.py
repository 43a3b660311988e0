"""Learning threshold: CartPole-v1 is solved (mean return >= 475) within 100k steps with a fixed seed."""
from conftest import progress_records, run_script


def test_cartpole_reaches_475_within_100k_steps(storage):
    proc = run_script("train.py", "CartPole-v1", "--pcon", "discrete", "--iterations", "97", "--seed", "1",
                      "--stop-early", "--no-state-norming")
    assert "reward threshold 475.0 reached" in proc.stdout, proc.stdout[-2000:]
    agent_id = next((storage / "experiments").iterdir()).name
    records = progress_records(storage, agent_id)
    assert records[-1]["frames"] <= 100_000
    returns = [r["rollout/return_mean"] for r in records if r.get("rollout/return_mean") is not None]
    assert sum(returns[-5:]) / 5 >= 475  # the last 5 cycles that finished episodes (500-step ones outlast a cycle)
