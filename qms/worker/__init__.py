"""`qms worker`: mail, the search outbox and the daily jobs, outside the web requests."""
