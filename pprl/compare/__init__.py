"""compare package."""
