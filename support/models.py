"""Customer service: tickets and returns."""
