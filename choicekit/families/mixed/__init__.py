"""The mixed logit family: random coefficients, panel likelihoods, simulated maximum likelihood."""
