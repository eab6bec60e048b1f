"""The domain: job and service-instance states, dates and search rules, free of I/O."""
