"""Inference: covariance estimators (classical, robust, OPG, cluster), the delta method,
restrictions, hypothesis tests and the bootstrap."""
