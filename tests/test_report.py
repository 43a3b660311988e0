"""Cycle statistics and the one-line cycle report."""
import numpy as np

from dexterity.agent.report import episode_stats, format_line


def test_episode_stats_of_manipulation_episodes():
    episodes = [{"return": 1.0, "length": 100, "success": 0.0, "consecutive_goals": 2, "goal_angle": 1.0},
                {"return": 3.0, "length": 120, "success": 1.0, "consecutive_goals": 4, "goal_angle": 1.4}]
    stats = episode_stats(episodes)
    assert stats["rollout/return_mean"] == 2.0 and stats["rollout/return_std"] == 1.0
    assert stats["rollout/length_mean"] == 110.0 and stats["rollout/episodes"] == 2
    assert stats["rollout/success_rate"] == 0.5 and stats["rollout/consecutive_goals"] == 3.0
    assert np.isclose(stats["rollout/goal_angle"], 1.2)
    assert episode_stats([]) == {"rollout/episodes": 0}
    assert "rollout/goal_angle" not in episode_stats([{"return": 0.0, "length": 5}])


def test_report_line_shows_goals_and_the_goal_angle_when_reported():
    record = {"iteration": 4, "frames": 8192, "rollout/return_mean": 2.0, "rollout/return_std": 1.0,
              "rollout/length_mean": 110.0, "rollout/episodes": 2, "rollout/success_rate": 0.5,
              "rollout/consecutive_goals": 3.0, "rollout/goal_angle": 1.2, "time/steps_per_s": 1000.0}
    line = format_line(record, 10, 60.0)
    assert line.startswith("cycle  5/10") and "goals 3.00" in line and "angle 1.20" in line
    del record["rollout/goal_angle"]
    assert "angle" not in format_line(record, 10, 60.0)
