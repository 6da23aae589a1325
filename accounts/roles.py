"""Staff roles: which model permissions each staff group holds, by app.

Permissions are resolved by app label, so a model added to an app later is covered
the next time `manage.py setup_roles` runs. A record nobody may rewrite, such as the
catalog's price history, has only a "view" permission, so even ALL grants no more.
"""

ALL = ("view", "add", "change", "delete")
READ = ("view",)

ROLES = {
    "Catalog managers": {"catalog": ALL, "shipping": READ},
    "Order managers": {"orders": ALL, "payments": ("view", "add", "change"), "shipping": READ},
    "Warehouse staff": {"shipping": ALL, "orders": READ, "catalog": READ},
    "Customer service": {
        "support": ALL,
        "orders": ("view", "change"),
        "payments": READ,
        "shipping": READ,
        "accounts": ("view",),
    },
}
