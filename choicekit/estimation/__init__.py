"""Estimation: the objective that sums a family's block sums (in memory, threads, streamed chunks),
the optimizers, and the identification and separation checks."""
