"""The multinomial logit family: its NumPy kernel and its compiled likelihood pass."""
