"""Choice data: the validated, immutable :class:`ChoiceData` (long and wide layouts, availability,
weights, groups) and its derived copies."""
