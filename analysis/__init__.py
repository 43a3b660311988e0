"""Network analysis tools: record activations of saved agents and analyse them."""
