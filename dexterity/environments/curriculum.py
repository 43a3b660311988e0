"""A goal-difficulty curriculum each environment runs on its own history. Pure Python, TensorFlow-free."""
from __future__ import annotations

import numpy as np


class GoalCurriculum:
    """Widen the goal angle as the agent masters it.

    Goal attempts (a goal reached, or lost by timeout or drop) are counted in windows of `window`;
    when a window's success fraction is at least `threshold`, the angle grows by `step` radians up to
    `limit`. The angle never shrinks. Each environment keeps its own curriculum, so it needs no
    communication between workers or ranks, and stays deterministic under the env's seed.
    """

    def __init__(self, start: float, step: float = 0.2, window: int = 10, threshold: float = 0.5,
                 limit: float = np.pi):
        if not 0.0 < start <= limit:
            raise ValueError(f"the curriculum's starting goal_angle must be in (0, {limit:.4g}], got {start}")
        if step <= 0.0 or window < 1 or not 0.0 < threshold <= 1.0:
            raise ValueError("curriculum_step must be > 0, curriculum_window >= 1 and curriculum_threshold in (0, 1]")
        self.start, self.step, self.window, self.threshold, self.limit = float(start), float(step), int(window), \
            float(threshold), float(limit)
        self.restart()

    def restart(self) -> None:
        """Back to the starting angle with an empty window."""
        self.resume_at(self.start)

    def resume_at(self, angle: float) -> None:
        """Continue from `angle` (clipped to [start, limit]) with an empty window."""
        self.angle = min(self.limit, max(self.start, angle))
        self._reached = 0
        self._attempts = 0

    def record(self, reached: bool) -> None:
        """Count one goal attempt; widen the angle when a full window met the threshold."""
        self._attempts += 1
        self._reached += int(reached)
        if self._attempts >= self.window:
            if self._reached >= self.threshold * self._attempts:
                self.angle = min(self.limit, self.angle + self.step)
            self._reached = 0
            self._attempts = 0
