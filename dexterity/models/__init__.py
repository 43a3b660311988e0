"""Model builders: the contract (BaseModel), the registry and the built-in architectures."""
from dexterity.models.base import (BaseModel, VisualEncoder, build_model, list_architectures,  # noqa: F401
                                   register_architecture)
from dexterity.models import standard  # noqa: F401  (registers simple, deeper, wider)
from dexterity.models import shadow  # noqa: F401  (registers shadow)
