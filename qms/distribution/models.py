"""Models of distribution."""
