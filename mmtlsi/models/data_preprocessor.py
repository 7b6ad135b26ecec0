"""Data preprocessor: normalise images, pad every task with its own value."""
