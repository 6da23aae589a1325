"""Business actions of this app; views, admin, tasks and commands call these."""
