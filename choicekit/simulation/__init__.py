"""Simulation: choices from a model's own error structure, derivation checks (Gumbel), synthetic
data and recovery studies."""
