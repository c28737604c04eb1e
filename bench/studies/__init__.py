"""One-off studies: each measured something once to choose a default or a
threshold, and its JSON sits beside it."""
