"""Policy distributions: categorical, multi-categorical, gaussian and beta, plus a registry.

A distribution is stateless: it is configured once from the action space, and every method is
a pure function of a parameter tensor params [B, P] produced by the layer from `build_head`.
Stored actions have shape [B, *action_shape]; `to_env` turns them (numpy) into env actions.

Adding a custom distribution: subclass `BasePolicyDistribution`, implement every abstract
method (build_head, sample, mode, log_prob, entropy, kl, to_env), set `param_size`,
`action_shape` and `action_dtype` in `__init__` (raise `ConfigError` for a space it cannot
handle), set the class attribute `is_continuous`, and decorate the class with
`@register_distribution("my-name")`; then select it with `--distribution my-name` (the module
must be imported, e.g. as a user module, before the agent is built).

    @register_distribution("my-gaussian")
    class MyGaussian(BasePolicyDistribution):
        is_continuous = True
        def __init__(self, action_space, **options): ...
"""
from dexterity.distributions.base import (HEAD_GAIN, BasePolicyDistribution, default_distribution, get_distribution,
                                          head_dense, list_distributions, register_distribution)
from dexterity.distributions.continuous import (BETA_EPS, LOG_STD_MAX, LOG_STD_MIN, Beta, BetaHead, Gaussian,
                                                GaussianHead)
from dexterity.distributions.discrete import Categorical, MultiCategorical

__all__ = [
    "BasePolicyDistribution", "register_distribution", "get_distribution", "default_distribution",
    "list_distributions", "head_dense", "HEAD_GAIN", "Categorical", "MultiCategorical", "Gaussian", "Beta",
    "GaussianHead", "BetaHead", "LOG_STD_MIN", "LOG_STD_MAX", "BETA_EPS",
]
