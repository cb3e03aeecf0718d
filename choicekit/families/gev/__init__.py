"""GEV families (nested and cross-nested logit): their utility-space kernel, their correlated
extreme-value errors, and the families on the protocol."""
