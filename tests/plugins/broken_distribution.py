"""A plugin whose distribution forgets two abstract methods (kl and to_env)."""
from dexterity.distributions import Gaussian, register_distribution
from dexterity.distributions.base import BasePolicyDistribution


@register_distribution("half-done")
class HalfDone(BasePolicyDistribution):
    """Implements everything but kl and to_env, by delegating to a Gaussian."""

    is_continuous = True

    def __init__(self, action_space, **options):
        super().__init__(action_space, **options)
        self.inner = Gaussian(action_space)
        self.param_size, self.action_shape, self.action_dtype = (self.inner.param_size, self.inner.action_shape,
                                                                 self.inner.action_dtype)

    def build_head(self, name="policy_head"):
        return self.inner.build_head(name)

    def sample(self, params, generator):
        return self.inner.sample(params, generator)

    def mode(self, params):
        return self.inner.mode(params)

    def log_prob(self, params, actions):
        return self.inner.log_prob(params, actions)

    def entropy(self, params):
        return self.inner.entropy(params)
