"""Models of word."""
