"""Results of a fit: estimates, covariance variants, fit statistics and summary tables."""
