"""What staff see of this app in Django admin."""
