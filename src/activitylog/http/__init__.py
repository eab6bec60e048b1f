"""The HTTP layer: the Oracle-compatible routes, their errors, authentication and headers."""
