"""Models of reviews."""
