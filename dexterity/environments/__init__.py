"""Shadow Hand tasks on the official mujoco bindings. Never import TensorFlow here."""


def register_environments() -> None:
    """Register the dexterity tasks with Gymnasium (idempotent)."""
