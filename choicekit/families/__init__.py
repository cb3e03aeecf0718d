"""Model families on one protocol: utility-space kernels (logit, GEV) and the families built on
them (:mod:`choicekit.families.mnl`, ...). Pure NumPy plus compiled fast paths; no pandas here."""
