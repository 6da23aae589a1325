"""Staff roles: which model permissions each staff group holds.

A role grants actions per app (every model of the app, so a model added later is covered the
next time `manage.py setup_roles` runs) or, where a role needs only part of an app, per model.
A record nobody may rewrite, such as the catalog's price history, has only a "view" permission,
so even ALL grants no more.

What a role may see of customers follows the same permissions: the customer's email, account
and order history are shown to whoever may view customers (CUSTOMER_DETAILS); a voucher code to
whoever may view vouchers; a variant's cost to whoever may change variants. The table in
README ("Staff roles") says the same in words.
"""

ALL = ("view", "add", "change", "delete")
READ = ("view",)

# Seeing who a customer is: email, account, their other orders. Warehouse staff lack it.
CUSTOMER_DETAILS = "accounts.view_user"
# Seeing what a variant costs the shop.
VARIANT_COST = "catalog.change_variant"

# The parts of the catalog a packer looks up: what a product is and how heavy.
CATALOG_LOOKUP = dict.fromkeys(
    ("product", "variant", "productimage", "category", "brand", "attribute", "attributevalue"), READ
)
# Shipping prices are set by order managers; everyone else who deals with parcels reads them.
SHIPPING_PRICES = ("shippingzone", "shippingmethod", "weightband")
PARCELS = {"shipment": READ, "shipmentline": READ, "shipmentevent": READ, "warehouse": READ}

ROLES = {
    "Catalog managers": {
        "catalog": ALL,
        "shipping": {
            "warehouse": READ,
            "stocklevel": READ,
            "supplier": READ,
            "purchaseorder": READ,
            "purchaseorderline": READ,
        },
    },
    "Order managers": {
        "orders": ALL,
        "payments": ("view", "add", "change"),
        "shipping": {"": READ, **dict.fromkeys(SHIPPING_PRICES, ALL)},
        "accounts": {"user": READ, "address": READ},
    },
    "Warehouse staff": {
        "shipping": {"": ALL, **dict.fromkeys(SHIPPING_PRICES, READ)},
        "orders": {"order": READ, "orderline": READ},
        "catalog": CATALOG_LOOKUP,
    },
    "Customer service": {
        "support": ALL,
        "orders": {
            "order": READ,
            "orderline": READ,
            "orderevent": READ,
            "voucher": READ,
            "voucherredemption": READ,
        },
        "payments": {"payment": READ, "refund": READ, "refundtopayback": READ},
        "shipping": {**PARCELS, **dict.fromkeys(SHIPPING_PRICES, READ)},
        "accounts": {"user": READ, "address": READ},
    },
}


def granted(role, app_label, model_name):
    """The actions `role` holds on one model: the model's own entry, else the app's default.

    An app given as a tuple grants it on every model; given as a dict, per model, with the key
    "" standing for every model not named.
    """
    apps = ROLES[role]
    if app_label not in apps:
        return ()
    actions = apps[app_label]
    if isinstance(actions, tuple):
        return actions
    return actions.get(model_name, actions.get("", ()))
