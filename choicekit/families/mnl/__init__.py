"""The multinomial logit family: the MNL model, its NumPy kernel and its compiled pass."""
