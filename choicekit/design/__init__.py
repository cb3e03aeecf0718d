"""The frozen, parameter-major linear design ``V = X beta + offset``, built once from data and
specification and read in blocks of cases by every family and backend."""
