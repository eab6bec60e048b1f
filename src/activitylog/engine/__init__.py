"""The engine: claiming jobs, running their handlers, keeping their leases."""
