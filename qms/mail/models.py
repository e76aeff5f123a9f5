"""Models of mail."""
