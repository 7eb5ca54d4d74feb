"""normalize package."""
