"""Utility specification: Beta/Var expressions, mlogit-style formulas, ``choicekit fit`` spec files
and restrictions; the family structure (nests, draws) lives here too."""
