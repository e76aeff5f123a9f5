"""Backup and restore: `qms backup DEST` takes a consistent snapshot while the application
keeps writing; `qms restore SRC` checks it, puts it back and verifies what it restored."""
