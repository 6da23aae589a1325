"""Orders: carts, checkout and the order life cycle."""
