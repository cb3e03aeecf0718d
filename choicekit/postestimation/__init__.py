"""Post-estimation on a result: predicted shares, elasticities and marginal effects, WTP,
scenarios and logsums."""
