"""The version of choicekit (one place: the package and saved results read it)."""

__version__ = "0.1.0"
