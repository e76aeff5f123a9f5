"""Models of tasks."""
