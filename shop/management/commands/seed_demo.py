"""Fill the shop with demo data: staff, customers, a realistic catalog and past orders.

Product number i is always drawn from its own generator seeded with (--seed, i), so the same
seed gives the same shop, and a larger --products tops an earlier run up instead of starting
over. Products and variants go through catalog.bulk exactly like an imported file; stock
arrives through shipping's receive_stock_batch from the suppliers that restock it, so the
ledger and the availability figures are real. Past orders are placed like a shopper places
them (cart, place_order), paid or cancelled through the payment and order services, and
shipped in parcels through the shipping services, whose carrier tracking delivers them; each
is drawn from its own generator seeded with (--seed, order number) and marked with its own
checkout token, so a larger --orders tops up too. The orders' steps are taken in the order
they happened and dated then (order events, stock ledger rows, parcel steps), so the ledger
holds the months of sales that replenishment plans on.
"""

import argparse
import heapq
import io
import random
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from accounts.models import User
from accounts.selectors import addresses_of
from accounts.services import create_address, create_user, setup_roles
from catalog.bulk import CatalogRow, ensure_attribute, ensure_category, upsert_catalog
from catalog.models import Product, Variant
from catalog.services import add_product_image, fold_units_sold
from orders.models import Order
from orders.services import (
    ADDRESS_FIELDS,
    add_to_cart,
    backdate_order,
    cancel_order,
    change_status,
    open_customer_cart,
    place_order,
    remove_from_cart,
)
from payments.models import Payment as PaymentRecord
from payments.services import mark_order_transfer_received, open_placed_order
from shipping.emails import KINDS as PARCEL_EMAILS
from shipping.models import Carrier, Shipment, ShipmentEvent, StockMovement
from shipping.services import (
    assign_supplier,
    create_shipping_method,
    create_supplier,
    create_warehouse,
    pack_what_is_left,
    receive_stock_batch,
    track_shipment,
)
from shop.models import SentEmail

DEMO_PASSWORD = "demo-shop-2026"  # noqa: S105 - demo data only, printed for the developer
STAFF = [
    ("admin@example.com", "Demo", "Admin", None),
    ("catalog@example.com", "Demo", "Catalog manager", "Catalog managers"),
    ("orders@example.com", "Demo", "Order manager", "Order managers"),
    ("warehouse@example.com", "Demo", "Warehouse staff", "Warehouse staff"),
    ("support@example.com", "Demo", "Customer service", "Customer service"),
]
DEFAULT_SEED = 1
STOCK_NOTE = "Demo stock"
# Products written per transaction: small enough to keep memory flat, large enough that
# bulk_create does the work.
CHUNK = 250

# name, SKU code, swatch colour
COLOURS = {
    "Black": ("BLK", "#26262b"),
    "White": ("WHT", "#ecebe6"),
    "Navy": ("NVY", "#1f3a68"),
    "Grey": ("GRY", "#8a8d91"),
    "Red": ("RED", "#c0392b"),
    "Green": ("GRN", "#2e7d32"),
    "Blue": ("BLU", "#1e88e5"),
    "Beige": ("BEI", "#cbb48f"),
    "Pink": ("PNK", "#d81b60"),
    "Yellow": ("YEL", "#f2b01e"),
    "Silver": ("SLV", "#a7abb0"),
    "Brown": ("BRN", "#7b5136"),
    "Olive": ("OLV", "#6b7034"),
}
CLOTHING_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
SHOE_SIZES = ("38", "39", "40", "41", "42", "43", "44", "45", "46")
BED_SIZES = ("Single", "Double", "King")
MATERIALS = (
    "Cotton",
    "Organic cotton",
    "Linen",
    "Wool",
    "Denim",
    "Polyester",
    "Leather",
    "Suede",
    "Aluminium",
    "Steel",
    "Ceramic",
    "Glass",
    "Oak",
    "Bamboo",
    "Recycled plastic",
)
ATTRIBUTES = [
    ("colour", "Colour", tuple(COLOURS)),
    ("material", "Material", MATERIALS),
    ("size", "Size", CLOTHING_SIZES + SHOE_SIZES + BED_SIZES),
]
SHIPPING_METHODS = [
    # name, price, free from, delivery days
    ("Standard", Decimal("4.90"), Decimal("50.00"), 2, 5),
    ("Express", Decimal("9.90"), None, 1, 2),
]
WAREHOUSES = [
    # code, name, priority, city, country
    ("berlin", "Berlin central", 30, "Berlin", "DE"),
    ("rotterdam", "Rotterdam port", 20, "Rotterdam", "NL"),
    ("lyon", "Lyon south", 10, "Lyon", "FR"),
]
SUPPLIERS = {
    # top-level category: name, email, lead time (days), days between orders
    "Clothing": ("Fjord Textile Works", "orders@fjord-textiles.example", 12, 14),
    "Shoes": ("Stride Footwear Supply", "orders@stride-supply.example", 9, 14),
    "Electronics": ("Voltix Distribution", "orders@voltix-distribution.example", 5, 7),
    "Home": ("Casa Home Wholesale", "orders@casa-wholesale.example", 7, 7),
    "Sports": ("Peak Outdoor Supply", "orders@peak-outdoor.example", 8, 14),
}
CATEGORY_DESCRIPTIONS = {
    ("Clothing",): "Everyday clothes in honest fabrics, for men and women.",
    ("Clothing", "Men"): "Shirts, tees, jackets and jeans cut for men.",
    ("Clothing", "Women"): "Dresses, tees, jackets and jeans cut for women.",
    ("Shoes",): "Sneakers for the city and boots for the weather.",
    ("Electronics",): "Phones, sound, laptops and the cables that hold it all together.",
    ("Home",): "Things for the kitchen, the bedroom and the light in between.",
    ("Sports",): "Kit for the gym and for the hills.",
}
SHAPES = {
    "Clothing": "circle",
    "Shoes": "diamond",
    "Electronics": "square",
    "Home": "triangle",
    "Sports": "hexagon",
}


@dataclass(frozen=True)
class Leaf:
    """A leaf category and how its products are named, sized and priced."""

    path: tuple[str, ...]
    slug: str
    code: str
    share: int
    brands: tuple[str, ...]
    template: str
    words: dict
    features: tuple[str, ...]
    materials: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    prices: tuple[int, int] = (10, 50)
    grams: tuple[int, int] = (100, 500)
    # Leaves that sell unlike things (kettlebells and yoga mats) name each kind of product
    # with its own materials, price range and weight range: noun → (materials, prices, grams).
    kinds: dict | None = None


CLOTHES = ("Northwind", "Fjellstad", "Urban Thread", "Maison Lune", "Blue Harbor", "Kestrel")
TEE_WORDS = {
    "style": ("Classic", "Essential", "Relaxed", "Slim-fit", "Vintage", "Heavyweight", "Striped"),
    "noun": ("T-shirt", "Crew T-shirt", "V-neck T-shirt", "Pocket T-shirt", "Long-sleeve T-shirt"),
}
TEE_FEATURES = (
    "A soft, breathable knit that keeps its shape wash after wash.",
    "Taped shoulder seams and a ribbed collar that does not sag.",
    "Pre-shrunk, so the size you order is the size you keep.",
    "Cut a little longer at the back to stay tucked in.",
)
JACKET_WORDS = {
    "style": ("Field", "Rain", "Quilted", "Bomber", "Trucker", "Parka", "Shell", "Chore"),
    "noun": ("Jacket", "Coat", "Overshirt"),
}
JACKET_FEATURES = (
    "Water-repellent finish and fully taped seams for wet days.",
    "Two-way zip, deep hand-warmer pockets and an inside phone pocket.",
    "Lined for warmth without the bulk.",
    "An adjustable hood that packs into the collar.",
)
JEANS_WORDS = {
    "style": ("Straight", "Slim", "Tapered", "Relaxed", "Bootcut", "High-rise", "Selvedge"),
    "noun": ("Jeans", "Denim Jeans", "Stretch Jeans"),
}
JEANS_FEATURES = (
    "Rigid denim that breaks in to your shape.",
    "A touch of stretch for days spent sitting and cycling.",
    "Riveted pockets and a button fly.",
    "Garment-washed for a lived-in colour from day one.",
)
LEAVES = (
    Leaf(
        ("Clothing", "Men", "T-shirts"),
        "men-t-shirts",
        "MTS",
        14,
        CLOTHES,
        "{brand} {style} {material} {noun}",
        TEE_WORDS,
        TEE_FEATURES,
        ("Cotton", "Organic cotton", "Linen"),
        ("Black", "White", "Navy", "Grey", "Red", "Green", "Olive"),
        CLOTHING_SIZES,
        (9, 39),
        (140, 260),
    ),
    Leaf(
        ("Clothing", "Men", "Shirts"),
        "men-shirts",
        "MSH",
        8,
        CLOTHES,
        "{brand} {style} {material} Shirt",
        {"style": ("Oxford", "Flannel", "Poplin", "Twill", "Button-down", "Camp-collar")},
        (
            "Mother-of-pearl buttons and a curved hem that works tucked or untucked.",
            "A soft collar that holds its line without stiffeners.",
            "Cut with room in the shoulders.",
        ),
        ("Cotton", "Linen", "Organic cotton"),
        ("White", "Blue", "Navy", "Beige", "Olive"),
        CLOTHING_SIZES,
        (29, 79),
        (220, 340),
    ),
    Leaf(
        ("Clothing", "Men", "Jackets"),
        "men-jackets",
        "MJK",
        6,
        CLOTHES,
        "{brand} {style} {noun}",
        JACKET_WORDS,
        JACKET_FEATURES,
        ("Polyester", "Wool", "Cotton", "Leather"),
        ("Black", "Navy", "Olive", "Brown", "Grey"),
        CLOTHING_SIZES,
        (69, 249),
        (650, 1400),
    ),
    Leaf(
        ("Clothing", "Men", "Jeans"),
        "men-jeans",
        "MJN",
        6,
        CLOTHES,
        "{brand} {style} {noun}",
        JEANS_WORDS,
        JEANS_FEATURES,
        ("Denim",),
        ("Blue", "Black", "Grey"),
        CLOTHING_SIZES,
        (39, 119),
        (500, 800),
    ),
    Leaf(
        ("Clothing", "Women", "T-shirts"),
        "women-t-shirts",
        "WTS",
        14,
        CLOTHES,
        "{brand} {style} {material} {noun}",
        TEE_WORDS,
        TEE_FEATURES,
        ("Cotton", "Organic cotton", "Linen"),
        ("Black", "White", "Pink", "Grey", "Yellow", "Beige", "Navy"),
        CLOTHING_SIZES,
        (9, 39),
        (120, 230),
    ),
    Leaf(
        ("Clothing", "Women", "Dresses"),
        "women-dresses",
        "WDR",
        9,
        CLOTHES,
        "{brand} {style} {material} {noun}",
        {
            "style": ("Wrap", "Shirt", "Slip", "Tiered", "Midi", "Maxi", "Knit", "Sundress"),
            "noun": ("Dress", "Day Dress", "Summer Dress"),
        },
        (
            "Pockets, because a dress should have pockets.",
            "A lining that stops short of the hem so it never shows.",
            "An adjustable waist tie for an easy fit.",
            "Falls just below the knee.",
        ),
        ("Cotton", "Linen", "Polyester", "Wool"),
        ("Black", "Navy", "Red", "Green", "Pink", "Yellow", "Beige"),
        CLOTHING_SIZES,
        (35, 149),
        (250, 600),
    ),
    Leaf(
        ("Clothing", "Women", "Jackets"),
        "women-jackets",
        "WJK",
        6,
        CLOTHES,
        "{brand} {style} {noun}",
        JACKET_WORDS,
        JACKET_FEATURES,
        ("Polyester", "Wool", "Cotton", "Leather"),
        ("Black", "Beige", "Olive", "Red", "Navy"),
        CLOTHING_SIZES,
        (69, 249),
        (550, 1200),
    ),
    Leaf(
        ("Clothing", "Women", "Jeans"),
        "women-jeans",
        "WJN",
        6,
        CLOTHES,
        "{brand} {style} {noun}",
        JEANS_WORDS,
        JEANS_FEATURES,
        ("Denim",),
        ("Blue", "Black", "White"),
        CLOTHING_SIZES,
        (39, 119),
        (450, 750),
    ),
    Leaf(
        ("Shoes", "Sneakers"),
        "sneakers",
        "SNK",
        8,
        ("Stride", "Kestrel", "Trailhead", "Northwind"),
        "{brand} {style} {material} {noun}",
        {
            "style": ("Court", "Runner", "Low-top", "High-top", "Retro", "Canvas", "Trail"),
            "noun": ("Sneakers", "Trainers", "Shoes"),
        },
        (
            "A cushioned insole you can take out and wash.",
            "A grippy rubber outsole stitched, not just glued.",
            "Padded collar and tongue for all-day comfort.",
        ),
        ("Leather", "Suede", "Recycled plastic", "Cotton"),
        ("White", "Black", "Grey", "Navy", "Red", "Green"),
        SHOE_SIZES,
        (49, 159),
        (600, 1000),
    ),
    Leaf(
        ("Shoes", "Boots"),
        "boots",
        "BOT",
        5,
        ("Stride", "Trailhead", "Fjellstad"),
        "{brand} {style} {material} {noun}",
        {"style": ("Chelsea", "Hiking", "Winter", "Work", "Desert", "Lace-up"), "noun": ("Boots",)},
        (
            "A waterproof membrane keeps socks dry in slush.",
            "Goodyear-welted, so they can be resoled for years.",
            "A lugged sole that grips on wet stone.",
        ),
        ("Leather", "Suede"),
        ("Brown", "Black", "Beige"),
        SHOE_SIZES,
        (89, 249),
        (1100, 1800),
    ),
    Leaf(
        ("Electronics", "Phones"),
        "phones",
        "PHN",
        5,
        ("Pomme", "Nova", "Orbit", "Voltix"),
        "{brand} {model} {number}{edition} {storage}",
        {
            "model": {
                "Pomme": ("iPhone",),
                "Nova": ("Nova", "Nova Lite"),
                "Orbit": ("Galaxy Orbit",),
                "Voltix": ("Volt", "Volt Max"),
            },
            "number": ("11", "12", "13", "14", "15", "16"),
            "edition": ("", "", " Pro", " Pro Max", " Plus", " Mini"),
            "storage": ("64 GB", "128 GB", "256 GB", "512 GB"),
        },
        (
            "A bright OLED screen that stays readable in sunshine.",
            "A battery that lasts a long day, with fast charging over USB-C.",
            "Dual cameras with night mode and 4K video.",
            "Five years of security updates.",
        ),
        ("Aluminium", "Glass", "Steel"),
        ("Black", "White", "Silver", "Blue", "Pink", "Green"),
        (),
        (349, 1199),
        (160, 240),
    ),
    Leaf(
        ("Electronics", "Audio"),
        "audio",
        "AUD",
        6,
        ("Soundwave", "Pomme", "Nova", "Voltix"),
        "{brand} {noun} {edition}",
        {"edition": ("Go", "Studio", "Mini", "Max", "2", "3", "Pro")},
        (
            "Connects to two devices at once and switches between them by itself.",
            "Tuned by ear in our studio, not just on a graph.",
            "Updates arrive over the air through the companion app.",
        ),
        colours=("Black", "White", "Silver", "Blue"),
        kinds={
            "Wireless Headphones": (("Recycled plastic", "Aluminium"), (59, 249), (220, 320)),
            "Noise-cancelling Headphones": (("Aluminium", "Leather"), (149, 399), (240, 330)),
            "Earbuds": (("Recycled plastic",), (29, 199), (40, 70)),
            "Bluetooth Speaker": (("Recycled plastic", "Aluminium"), (39, 249), (300, 1500)),
            "Soundbar": (("Aluminium", "Oak"), (149, 599), (2000, 4500)),
        },
    ),
    Leaf(
        ("Electronics", "Laptops"),
        "laptops",
        "LAP",
        3,
        ("Orbit", "Nova", "Voltix", "Pomme"),
        '{brand} {series} {screen}" {cpu}',
        {
            "series": ("Book", "Book Air", "Pro", "Studio", "Flex"),
            "screen": ("13", "14", "15", "16"),
            "cpu": ("8-core", "10-core", "12-core"),
        },
        (
            "A keyboard with proper travel and a backlight.",
            "All-day battery and a charger that fits in a pocket.",
            "Two USB-C ports, HDMI and a headphone jack.",
        ),
        ("Aluminium",),
        ("Silver", "Grey", "Black"),
        (),
        (599, 2499),
        (1100, 2200),
    ),
    Leaf(
        ("Electronics", "Accessories"),
        "accessories",
        "ACC",
        5,
        ("Voltix", "Orbit", "Soundwave"),
        "{brand} {noun} {detail}",
        {"detail": ("Slim", "Rugged", "Travel", "Plus", "Pro")},
        (
            "Works with every USB-C phone and laptop.",
            "Small enough to live in a coat pocket.",
            "Two-year guarantee, and we mean it.",
        ),
        colours=("Black", "White", "Blue", "Pink"),
        kinds={
            "USB-C Cable": (("Recycled plastic",), (9, 29), (30, 80)),
            "65 W Charger": (("Recycled plastic",), (29, 69), (110, 180)),
            "Power Bank": (("Aluminium", "Recycled plastic"), (25, 79), (200, 450)),
            "Phone Case": (("Leather", "Recycled plastic"), (15, 49), (30, 60)),
            "Laptop Sleeve": (("Wool", "Leather", "Polyester"), (25, 89), (150, 400)),
        },
    ),
    Leaf(
        ("Home", "Kitchen"),
        "kitchen",
        "KIT",
        7,
        ("Hearth & Co", "Casa Verde", "Ironleaf"),
        "{brand} {material} {noun}",
        {},
        (
            "Made in a small family workshop.",
            "Designed to be handed down, not thrown out.",
            "Comes in a box you can keep it in.",
        ),
        colours=("Black", "White", "Red", "Green", "Beige"),
        kinds={
            "Chef's Knife": (("Steel",), (39, 149), (180, 260)),
            "Frying Pan": (("Steel",), (29, 119), (900, 1800)),
            "Saucepan": (("Steel",), (35, 129), (900, 1600)),
            "Mixing Bowl Set": (("Ceramic", "Glass", "Steel"), (19, 69), (800, 2200)),
            "Chopping Board": (("Oak", "Bamboo"), (19, 79), (700, 2000)),
            "Coffee Mug": (("Ceramic", "Glass"), (9, 24), (250, 400)),
            "Teapot": (("Ceramic", "Glass"), (19, 59), (500, 900)),
        },
    ),
    Leaf(
        ("Home", "Bedding"),
        "bedding",
        "BED",
        5,
        ("Casa Verde", "Hearth & Co", "Maison Lune"),
        "{brand} {material} {noun}",
        {"noun": ("Duvet Cover", "Sheet Set", "Pillowcase Pair", "Throw Blanket", "Quilt")},
        (
            "Stonewashed for softness from the first night.",
            "Breathable, so it is cool in summer and warm in winter.",
            "Gets softer with every wash.",
        ),
        ("Cotton", "Linen", "Organic cotton"),
        ("White", "Grey", "Beige", "Navy", "Pink"),
        BED_SIZES,
        (25, 179),
        (600, 2400),
    ),
    Leaf(
        ("Home", "Lighting"),
        "lighting",
        "LGT",
        4,
        ("Lumen", "Casa Verde", "Ironleaf"),
        "{brand} {style} {material} {noun}",
        {
            "style": ("Arc", "Globe", "Dome", "Pleated", "Industrial", "Nordic"),
            "noun": ("Floor Lamp", "Table Lamp", "Pendant Light", "Desk Lamp", "Wall Light"),
        },
        (
            "Takes a standard E27 bulb; a warm LED is in the box.",
            "A dimmer on the cable.",
            "A fabric cable in a colour that matches the shade.",
        ),
        ("Steel", "Glass", "Oak", "Ceramic"),
        ("Black", "White", "Brown", "Yellow", "Green"),
        (),
        (29, 249),
        (700, 5500),
    ),
    Leaf(
        ("Sports", "Fitness"),
        "fitness",
        "FIT",
        5,
        ("Peak Motion", "Kestrel", "Stride"),
        "{brand} {noun} {detail}",
        {"detail": ("Pro", "Studio", "Home", "Travel", "Plus")},
        (
            "Comes with a printed plan of twenty exercises.",
            "Wipes clean in seconds.",
            "Built for daily use in busy gyms.",
        ),
        colours=("Black", "Blue", "Pink", "Green", "Grey"),
        kinds={
            "Yoga Mat": (("Recycled plastic", "Cotton"), (19, 89), (900, 2500)),
            "Kettlebell": (("Steel",), (25, 99), (4000, 16000)),
            "Resistance Band Set": (("Recycled plastic",), (12, 39), (200, 500)),
            "Jump Rope": (("Steel", "Recycled plastic"), (9, 29), (150, 300)),
            "Foam Roller": (("Recycled plastic",), (15, 45), (300, 700)),
        },
    ),
    Leaf(
        ("Sports", "Outdoor"),
        "outdoor",
        "OUT",
        5,
        ("Trailhead", "Peak Motion", "Fjellstad"),
        "{brand} {detail} {noun}",
        {"detail": ("Ultralight", "Trail", "Alpine", "Summit", "Explorer")},
        (
            "Tested on a week-long trek across the Alps.",
            "Repairable: spare parts are sold separately.",
            "Every seam is double-stitched.",
        ),
        colours=("Green", "Olive", "Red", "Blue", "Black", "Yellow"),
        kinds={
            "Daypack 20 L": (("Polyester",), (39, 129), (500, 900)),
            "2-person Tent": (("Polyester",), (129, 399), (1400, 2800)),
            "3-season Sleeping Bag": (("Polyester",), (79, 249), (900, 1600)),
            "Trekking Poles": (("Aluminium",), (29, 99), (400, 600)),
            "Insulated Water Bottle": (("Steel",), (15, 39), (250, 400)),
        },
    ),
)
LEAF_WEIGHTS = [leaf.share for leaf in LEAVES]
OPENINGS = (
    "Meet the {title}.",
    "The {title} is made to be used every day, not kept for best.",
    "{title}: the one you will reach for first.",
    "We made the {title} after a year of testing with our customers.",
)
CLOSINGS = (
    "Ships from our own warehouses within two working days.",
    "Free returns within 30 days.",
    "Backed by a two-year guarantee.",
    "Packed without plastic.",
)
XXL_PREMIUM = {False: Decimal("2.00"), True: Decimal("10.00")}
SALE_FACTORS = (Decimal("1.2"), Decimal("1.25"), Decimal("1.3"), Decimal("1.5"))


@dataclass(frozen=True)
class DemoProduct:
    slug: str
    title: str
    brand: str
    colour: str
    shape: str
    rows: tuple[CatalogRow, ...]


def demo_product(seed, number):
    """Draw product `number` of the demo catalog: the same (seed, number), the same product."""
    rng = random.Random(f"{seed}:{number}")
    leaf = rng.choices(LEAVES, weights=LEAF_WEIGHTS)[0]
    brand = rng.choice(leaf.brands)
    materials, prices, grams = leaf.materials, leaf.prices, leaf.grams
    words = {}
    if leaf.kinds:
        words["noun"] = rng.choice(sorted(leaf.kinds))
        materials, prices, grams = leaf.kinds[words["noun"]]
    material = rng.choice(materials) if materials else ""
    words.update(
        (name, rng.choice(choices[brand] if isinstance(choices, dict) else choices))
        for name, choices in leaf.words.items()
    )
    title = " ".join(leaf.template.format(brand=brand, material=material.title(), **words).split())
    key = f"{number:05d}" if seed == DEFAULT_SEED else f"S{seed}-{number:05d}"
    slug = f"{slugify(title)}-{key.lower()}"
    description = " ".join(
        [
            rng.choice(OPENINGS).format(title=title),
            f"Made from {material.lower()}." if material else "",
            *rng.sample(leaf.features, k=min(2, len(leaf.features))),
            rng.choice(CLOSINGS),
        ]
    )
    colours = rng.sample(leaf.colours, k=rng.randint(1, min(3, len(leaf.colours))))
    sizes = [""]
    if leaf.sizes:
        start = rng.randrange(len(leaf.sizes))
        sizes = list(leaf.sizes[start : start + rng.randint(1, 4)])
    combinations = [(colour, size) for colour in colours for size in sizes][:6]
    base_price = _shop_price(rng.uniform(*prices))
    sale = rng.choice(SALE_FACTORS) if rng.random() < 0.25 else None
    grams = rng.randint(*grams)
    rows = []
    for position, (colour, size) in enumerate(combinations):
        price = base_price + (XXL_PREMIUM[base_price >= 100] if size == "XXL" else 0)
        options = [("colour", colour)] + ([("size", size)] if size else [])
        rows.append(
            CatalogRow(
                row=position + 1,
                sku="-".join(filter(None, [leaf.code, key, COLOURS[colour][0], size.upper()])),
                product_slug=slug,
                title=title,
                description=description,
                category=leaf.path,
                brand=brand,
                product_attributes=(("material", material),) if material else (),
                variant_name=" / ".join(filter(None, [colour, size])),
                price=price,
                compare_at_price=_shop_price(price * sale) if sale else None,
                weight_grams=grams + 10 * sizes.index(size),
                # Now and then a variant is switched off; the first one never is.
                active=position == 0 or rng.random() > 0.03,
                attributes=tuple(options),
            )
        )
    return DemoProduct(slug, title, brand, colours[0], SHAPES[leaf.path[0]], tuple(rows))


def _shop_price(amount):
    """A price as a shop would print it: 24.99 under a hundred, 799.00 above."""
    whole = int(amount)
    if whole < 100:
        return Decimal(whole) + Decimal("0.99")
    return Decimal(whole // 10 * 10 + 9).quantize(Decimal("0.01"))


def stock_plan(seed, sku):
    """Units of one variant per warehouse code; about one variant in twelve has none."""
    rng = random.Random(f"{seed}:stock:{sku}")
    if rng.random() < 0.08:
        return {}
    plan = {"berlin": rng.randint(1, 40)}
    if rng.random() < 0.5:
        plan["rotterdam"] = rng.randint(1, 25)
    if rng.random() < 0.15:
        plan["lyon"] = rng.randint(1, 12)
    return plan


# Past orders

Status = Order.Status
Payment = Order.PaymentMethod
CUSTOMER_EMAIL = re.compile(r"customer(\d+)@example\.com")
HISTORY_DAYS = 90
# Demo history stops a day and a half ago. Demo orders send no email, and the order-email
# sweep looks back one day for orders whose email never went out: it must not find these.
HISTORY_END = timedelta(hours=36)
# Leaves whose products are often bought together with a product of this leaf.
GOES_WITH = {
    "men-t-shirts": ("men-jeans", "men-shirts"),
    "men-shirts": ("men-jeans",),
    "men-jackets": ("men-jeans", "boots"),
    "men-jeans": ("men-t-shirts", "sneakers"),
    "women-t-shirts": ("women-jeans",),
    "women-dresses": ("sneakers", "women-jackets"),
    "women-jackets": ("women-jeans", "boots"),
    "women-jeans": ("women-t-shirts", "sneakers"),
    "sneakers": ("fitness",),
    "boots": ("outdoor",),
    "phones": ("accessories", "audio"),
    "audio": ("accessories",),
    "laptops": ("accessories",),
    "accessories": ("phones",),
    "kitchen": ("kitchen",),
    "bedding": ("lighting",),
    "lighting": ("bedding",),
    "fitness": ("sneakers", "fitness"),
    "outdoor": ("boots", "outdoor"),
}
FAVOURITE_SHARE = 0.8  # of the products a customer picks come from their favourite leaves
COMPANION_SHARE = 0.4  # of the products have a companion...
TOGETHER_SHARE = 0.5  # ...that joins them in this share of the orders they are in
CANCELLED_SHARE = 0.07


def order_token(seed, number):
    """The checkout token of demo order `number`: placing it twice places it once."""
    return f"demo:{seed}:{number}"


def order_age(seed, number):
    """How long ago demo order `number` was placed, skewed towards recent days like a shop
    that is growing."""
    rng = random.Random(f"{seed}:placed:{number}")
    return HISTORY_END + (timedelta(days=HISTORY_DAYS) - HISTORY_END) * rng.random() ** 1.4


@dataclass(frozen=True)
class Shopper:
    user: User
    address: dict
    favourites: tuple[str, ...]  # leaf slugs
    activity: float  # how often they buy, relative to the others


class PurchaseHabits:
    """Who buys what: customers' favourite leaves, each product's pull and its companion.

    Every figure is drawn from a generator seeded with the seed and the customer's email or
    the product's slug, so it does not change when the shop grows around it.
    """

    def __init__(self, *, seed, customers, products):
        self.by_leaf = defaultdict(list)
        self.pull = {}
        for pk, slug, leaf in products:
            self.by_leaf[leaf].append(pk)
            # Heavy-tailed, so each leaf has a few bestsellers and a long tail.
            self.pull[pk] = random.Random(f"{seed}:pull:{slug}").paretovariate(1.2)
        shares = {leaf.slug: leaf.share for leaf in LEAVES}
        self.leaves = sorted(self.by_leaf)
        self.leaf_weights = [shares.get(leaf, 1) for leaf in self.leaves]
        self.companion = {}
        for pk, slug, leaf in products:
            rng = random.Random(f"{seed}:companion:{slug}")
            partners = [
                other
                for partner_leaf in GOES_WITH.get(leaf, ())
                for other in self.by_leaf.get(partner_leaf, ())
                if other != pk
            ]
            if partners and rng.random() < COMPANION_SHARE:
                self.companion[pk] = self._pick(rng, partners)
        self.shoppers = [self._shopper(seed, user) for user in customers]

    def _shopper(self, seed, user):
        rng = random.Random(f"{seed}:shopper:{user.email}")
        favourites = []
        while self.leaves and len(favourites) < min(rng.choice((1, 1, 2)), len(self.leaves)):
            leaf = rng.choices(self.leaves, weights=self.leaf_weights)[0]
            if leaf not in favourites:
                favourites.append(leaf)
        address = addresses_of(user).first()
        return Shopper(
            user=user,
            address={name: str(getattr(address, name)) for name in ADDRESS_FIELDS},
            favourites=tuple(favourites),
            activity=rng.lognormvariate(0, 0.8),
        )

    def _pick(self, rng, products):
        return rng.choices(products, weights=[self.pull[pk] for pk in products])[0]

    def basket(self, rng, shopper):
        """Products for one order: mostly from the favourite leaves, with their companions."""
        products = []
        for _ in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
            if rng.random() < FAVOURITE_SHARE:
                leaf = rng.choice(shopper.favourites)
            else:
                leaf = rng.choices(self.leaves, weights=self.leaf_weights)[0]
            product = self._pick(rng, self.by_leaf[leaf])
            products.append(product)
            if product in self.companion and rng.random() < TOGETHER_SHARE:
                products.append(self.companion[product])
        return list(dict.fromkeys(products))


def order_lines(rng, products):
    """(variant id, quantity) for the products, from variants that can be sold right now."""
    in_stock = defaultdict(list)
    for pk, product_id, available in (
        Variant.objects.filter(
            product__in=products, is_active=True, product__is_active=True, stock_available__gt=0
        )
        .order_by("pk")
        .values_list("pk", "product_id", "stock_available")
    ):
        in_stock[product_id].append((pk, available))
    lines = []
    for product in products:
        if in_stock[product]:
            variant, available = rng.choice(in_stock[product])
            lines.append((variant, min(available, rng.choices((1, 2, 3), weights=(85, 12, 3))[0])))
    return lines


@dataclass(frozen=True)
class Step:
    """One move in a demo order's history."""

    status: str
    at: datetime
    note: str = ""
    by_customer: bool = False


def order_history(rng, *, payment, placed, until):
    """The steps staff and shoppers took after an order was placed, up to `until`.

    Cash on delivery goes straight to shipping; a bank transfer is paid first. A few
    orders are cancelled: by the shopper within hours, or a transfer that never came.
    "Shipped" is when staff pack the parcels and hand them to the carrier, whose tracking
    then delivers them within a day or two; a week or two later the order is completed.
    Later steps have not happened yet for the most recent orders.
    """

    def hours(low, high):
        return timedelta(hours=rng.uniform(low, high))

    if rng.random() < CANCELLED_SHARE:
        if payment == Payment.BANK_TRANSFER and rng.random() < 0.5:
            steps = [Step(Status.CANCELLED, placed + hours(72, 168), "Payment never arrived.")]
        else:
            steps = [Step(Status.CANCELLED, placed + hours(1, 20), "Changed my mind.", True)]
    else:
        steps, at = [], placed
        if payment == Payment.BANK_TRANSFER:
            at += hours(2, 48)
            steps.append(Step(Status.PAID, at, "Transfer received."))
        for status, low, high in ((Status.SHIPPED, 12, 48), (Status.COMPLETED, 8 * 24, 15 * 24)):
            at += hours(low, high)
            steps.append(Step(status, at))
    return [step for step in steps if step.at <= until]


def pack_demo_order(order, *, at, staff):
    """Pack everything of the order and hand it to the simulated carrier, dated `at`.

    The units leave stock through pack_what_is_left. The parcels, their first step and the
    ledger rows are then dated `at`, so the carrier's tracking counts its journey from there.
    """
    parcels = pack_what_is_left(order=order, user=staff, carrier=Carrier.SIMULATED)
    Shipment.objects.filter(order=order).update(created_at=at, updated_at=at)
    ShipmentEvent.objects.filter(shipment__order=order).update(happened_at=at)
    StockMovement.objects.filter(order=order, kind=StockMovement.Kind.SHIPMENT).update(
        created_at=at
    )
    # The demo's parcels travelled in the past: their shipped and delivered emails count as
    # sent then (shipping.emails keys them so), so demo customers get none now, nor when the
    # carrier poll delivers a parcel still on its way.
    SentEmail.objects.bulk_create(
        SentEmail(key=f"shipment:{parcel.pk}:{kind}", recipient=order.email, subject=kind)
        for parcel in parcels
        for kind in PARCEL_EMAILS
    )
    for parcel in parcels:
        parcel.created_at = at
    return parcels


def date_demo_history(order, *, placed_at, history):
    """Date the order's events, its ledger rows and its payment when each step happened.

    The steps the seed took carry their own times, except that the order is shipped and
    delivered when the carrier reported its first and last parcels on their way and arrived.
    """
    at = {step.status: step.at for step in history}
    parcels = ShipmentEvent.objects.filter(shipment__order=order)
    shipped = parcels.filter(status=Shipment.Status.SHIPPED).aggregate(
        first=Min("happened_at"), last=Max("happened_at")
    )
    arrived = parcels.filter(status=Shipment.Status.DELIVERED).aggregate(last=Max("happened_at"))
    delivered = arrived["last"]
    when = {
        **at,
        Status.PENDING_PAYMENT: placed_at,
        Status.CONFIRMED: placed_at,
        Status.PARTIALLY_SHIPPED: shipped["first"],
        Status.SHIPPED: shipped["last"],
        Status.DELIVERED: delivered,
    }
    events = order.events.order_by("created_at", "pk")
    backdate_order(order=order, times=[when[event.to_status] for event in events])
    ledger = StockMovement.objects.filter(order=order)
    ledger.filter(kind=StockMovement.Kind.RESERVATION).update(created_at=placed_at)
    if Status.CANCELLED in at:
        ledger.filter(kind=StockMovement.Kind.RELEASE).update(created_at=at[Status.CANCELLED])
    if delivered is not None:
        PaymentRecord.objects.filter(
            order=order,
            method=Payment.CASH_ON_DELIVERY,
            status=PaymentRecord.Status.SUCCEEDED,
        ).update(paid_at=delivered)


class ProductCards:
    """Draws product images: a coloured card with a shape and the brand's initials.

    Each distinct card (brand, colour, shape) is drawn once and reused, so ten thousand
    products cost a few dozen drawings.
    """

    SIZE = 480

    def __init__(self):
        self.drawn = {}
        self.font = ImageFont.load_default(size=132)

    def png(self, *, brand, colour, shape):
        key = (brand, colour, shape)
        if key not in self.drawn:
            self.drawn[key] = self._draw(brand, colour, shape)
        return self.drawn[key]

    def _draw(self, brand, colour, shape):
        ink = _rgb(COLOURS[colour][1])
        paper = tuple(round(channel + (255 - channel) * 0.78) for channel in ink)
        image = Image.new("RGB", (self.SIZE, self.SIZE), paper)
        draw = ImageDraw.Draw(image)
        middle, radius = self.SIZE / 2, self.SIZE * 0.36
        if shape == "circle":
            draw.ellipse(
                [middle - radius, middle - radius, middle + radius, middle + radius], fill=ink
            )
        elif shape == "square":
            draw.rounded_rectangle(
                [middle - radius, middle - radius, middle + radius, middle + radius],
                radius=radius / 4,
                fill=ink,
            )
        else:
            sides = {"triangle": 3, "diamond": 4, "hexagon": 6}[shape]
            draw.regular_polygon(
                (middle, middle, radius * 1.15), sides, rotation=45 if sides == 4 else 0, fill=ink
            )
        initials = "".join(word[0] for word in brand.split() if word[0].isalpha())[:2]
        light = sum(ink) > 3 * 170
        draw.text(
            (middle, middle + (radius * 0.2 if shape == "triangle" else 0)),
            initials.upper(),
            fill=(40, 40, 40) if light else (255, 255, 255),
            font=self.font,
            anchor="mm",
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()


def _rgb(hex_colour):
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def _count(text):
    number = int(text)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return number


class Command(BaseCommand):
    help = (
        "Create demo staff (one per role), customers, suppliers, a realistic catalog with "
        "stock and drawn product images, and past orders shipped through the shipping "
        "services. The same --seed gives the same data; safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if users exist.")
        parser.add_argument("--customers", type=_count, default=20)
        parser.add_argument("--products", type=_count, default=200)
        parser.add_argument(
            "--orders",
            type=_count,
            default=150,
            help="Past orders of the demo customers, over the last 90 days.",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument(
            "--no-images", action="store_true", help="Skip drawing product images (faster)."
        )

    def handle(self, *args, if_empty, customers, products, orders, seed, no_images, **options):
        if if_empty and User.objects.exists():
            self.stdout.write("The database already has users; nothing seeded.")
            return
        started = time.monotonic()
        self.progress = options["verbosity"] > 0
        now = timezone.now()
        with transaction.atomic():
            self.seed_staff()
            self.seed_customers(customers)
            methods = self.seed_shipping_methods()
            suppliers = self.seed_suppliers()
        self.seed_catalog(
            count=products, seed=seed, images=not no_images, suppliers=suppliers, now=now
        )
        self.seed_orders(count=orders, seed=seed, methods=methods, now=now)
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded in {time.monotonic() - started:.1f} s: "
                f"{Product.objects.count()} products, {Variant.objects.count()} variants, "
                f"{User.objects.filter(is_staff=False).count()} customers, "
                f"{Order.objects.count()} orders. "
                f"Sign in as admin@example.com / {DEMO_PASSWORD}"
            )
        )

    def seed_staff(self):
        groups = {group.name: group for group in setup_roles()}
        existing = set(User.objects.values_list("email", flat=True))
        for email, first_name, last_name, role in STAFF:
            if email not in existing:
                create_user(
                    email=email,
                    password=DEMO_PASSWORD,
                    first_name=first_name,
                    last_name=last_name,
                    is_staff=True,
                    is_superuser=role is None,
                    email_verified=True,
                    groups=[groups[role]] if role else [],
                )

    def seed_customers(self, count):
        existing = set(User.objects.values_list("email", flat=True))
        for n in range(1, count + 1):
            email = f"customer{n}@example.com"
            if email in existing:
                continue
            user = create_user(
                email=email,
                password=DEMO_PASSWORD,
                first_name="Customer",
                last_name=str(n),
                email_verified=True,
            )
            create_address(
                user=user,
                full_name=f"Customer {n}",
                line1=f"{n} Market Street",
                city="Berlin",
                postal_code="10115",
                country="DE",
            )

    def seed_shipping_methods(self):
        """The shop's shipping methods by name; a second run leaves staff's changes alone."""
        return {
            name: create_shipping_method(
                name=name,
                price=price,
                free_over=free_over,
                min_days=min_days,
                max_days=max_days,
                position=position,
            )
            for position, (name, price, free_over, min_days, max_days) in enumerate(
                SHIPPING_METHODS
            )
        }

    def seed_suppliers(self):
        """The supplier of each top-level category; a second run leaves staff's changes alone."""
        return {
            category: create_supplier(
                name=name, email=email, lead_time_days=lead_time, review_days=review_days
            )
            for category, (name, email, lead_time, review_days) in SUPPLIERS.items()
        }

    def seed_catalog(self, *, count, seed, images, suppliers, now):
        """Write products 1..count in chunks, each with its stock and (optionally) images."""
        for position, (slug, name, values) in enumerate(ATTRIBUTES):
            ensure_attribute(slug=slug, name=name, position=position, values=values)
        for position, leaf in enumerate(LEAVES):
            for depth in range(1, len(leaf.path)):
                ensure_category(
                    path=leaf.path[:depth],
                    description=CATEGORY_DESCRIPTIONS.get(leaf.path[:depth], ""),
                    position=position,
                )
            ensure_category(path=leaf.path, slug=leaf.slug, position=position)
        warehouses = {
            code: create_warehouse(
                code=code, name=name, priority=priority, city=city, country=country
            )
            for code, name, priority, city, country in WAREHOUSES
        }
        cards = ProductCards() if images else None
        with tqdm(
            total=count, unit="product", desc="Catalog", disable=not self.progress or not count
        ) as bar:
            for start in range(1, count + 1, CHUNK):
                demo = [demo_product(seed, n) for n in range(start, min(start + CHUNK, count + 1))]
                upsert_catalog(rows=[row for product in demo for row in product.rows])
                self.receive_demo_stock(
                    demo, seed=seed, warehouses=warehouses, suppliers=suppliers, now=now
                )
                if cards is not None:
                    self.add_demo_images(demo, cards=cards)
                bar.update(len(demo))

    def receive_demo_stock(self, demo, *, seed, warehouses, suppliers, now):
        """Stock the variants that have never had any, so a second run receives nothing.

        Each new stock level is restocked by the supplier of its product's top-level
        category, and its first units arrived before the order history begins.
        """
        categories = {row.sku: row.category[0] for product in demo for row in product.rows}
        skus = dict(
            Variant.objects.filter(sku__in=categories, stock_levels__isnull=True)
            .order_by("pk")
            .values_list("pk", "sku")
        )
        levels = receive_stock_batch(
            receipts=[
                (variant_id, warehouses[code].pk, quantity)
                for variant_id, sku in skus.items()
                for code, quantity in stock_plan(seed, sku).items()
            ],
            note=STOCK_NOTE,
        )
        by_category = defaultdict(list)
        for level in levels:
            by_category[categories[skus[level.variant_id]]].append(level)
        for category, category_levels in by_category.items():
            assign_supplier(supplier=suppliers[category], stock_levels=category_levels)
        StockMovement.objects.filter(stock_level__in=levels, note=STOCK_NOTE).update(
            created_at=now - timedelta(days=HISTORY_DAYS + 1)
        )

    def add_demo_images(self, demo, *, cards):
        by_slug = {product.slug: product for product in demo}
        for product in Product.objects.filter(slug__in=by_slug, images__isnull=True).order_by("pk"):
            card = by_slug[product.slug]
            png = cards.png(brand=card.brand, colour=card.colour, shape=card.shape)
            add_product_image(
                product=product,
                image_file=ContentFile(png, name=f"{product.slug}.png"),
                alt=product.title,
            )

    def seed_orders(self, *, count, seed, methods, now):
        """Place demo orders 1..count that are not there yet and live their histories.

        The orders' steps are taken in the order they happened, interleaved, so each order
        buys from the stock the earlier ones left and the stock ledger reads in time order
        (check_books compares each level with its latest ledger row). It is all one
        transaction: an interrupted run leaves no order half-lived.
        """
        tokens = [order_token(seed, number) for number in range(1, count + 1)]
        placed = set(
            Order.objects.filter(checkout_token__in=tokens).values_list("checkout_token", flat=True)
        )
        missing = [number for number, token in enumerate(tokens, 1) if token not in placed]
        customers = sorted(
            (
                user
                for user in User.objects.filter(
                    is_staff=False, email__endswith="@example.com", addresses__isnull=False
                ).distinct()
                if CUSTOMER_EMAIL.fullmatch(user.email)
            ),
            key=lambda user: int(CUSTOMER_EMAIL.fullmatch(user.email).group(1)),
        )
        if not missing or not customers:
            return
        habits = PurchaseHabits(
            seed=seed,
            customers=customers,
            products=Product.objects.filter(is_active=True, category__slug__in=GOES_WITH)
            .order_by("slug")
            .values_list("pk", "slug", "category__slug"),
        )
        if not habits.leaves:
            return
        staff = User.objects.filter(email="orders@example.com").first()
        lives = []
        for number in missing:
            life = self.live_demo_order(
                rng=random.Random(f"{seed}:order:{number}"),
                token=order_token(seed, number),
                placed_at=now - order_age(seed, number),
                habits=habits,
                methods=methods,
                staff=staff,
                until=now - HISTORY_END,
            )
            heapq.heappush(lives, (next(life), number, life))
        unfilled = 0
        with (
            transaction.atomic(),
            tqdm(
                total=count,
                initial=count - len(missing),
                unit="order",
                desc="Orders",
                disable=not self.progress,
            ) as bar,
        ):
            while lives:
                _at, number, life = heapq.heappop(lives)
                try:
                    heapq.heappush(lives, (next(life), number, life))
                except StopIteration as end:
                    unfilled += end.value is None
                    bar.update(1)
        # The bestsellers count the demo's sales now rather than at the next scheduled fold.
        fold_units_sold()
        if unfilled:
            self.stdout.write(f"{unfilled} demo orders found nothing in stock to buy.")

    def live_demo_order(self, *, rng, token, placed_at, habits, methods, staff, until):
        """One demo order's life, up to `until`: yields when its next step happens.

        The caller resumes it at that moment; it returns the order, or None when nothing the
        customer wanted was in stock. The customer places it from their cart (whatever was
        left in it is taken out first), and each later step goes through the service staff or
        the shopper would use: payments marks a transfer received, orders cancels, shipping
        packs the parcels and the carrier's tracking moves them on; the order follows its
        parcels and payments collects cash on delivery. Last, its history is dated.
        """
        yield placed_at
        shopper = rng.choices(habits.shoppers, weights=[s.activity for s in habits.shoppers])[0]
        lines = []
        for _attempt in range(5):
            lines = order_lines(rng, habits.basket(rng, shopper))
            if lines:
                break
        else:
            return None
        payment = rng.choices((Payment.CASH_ON_DELIVERY, Payment.BANK_TRANSFER), weights=(3, 2))[0]
        method = methods["Express"] if rng.random() < 0.15 else methods["Standard"]
        history = order_history(rng, payment=payment, placed=placed_at, until=until)
        user = shopper.user
        cart = open_customer_cart(user=user)
        for line in cart.lines.all():
            remove_from_cart(cart=cart, line_id=line.pk)
        for variant_id, quantity in lines:
            add_to_cart(cart=cart, variant_id=variant_id, quantity=quantity)
        order = place_order(
            cart=cart,
            checkout_token=token,
            email=user.email,
            address=shopper.address,
            shipping_method_id=method.pk,
            payment_method=payment,
            user=user,
            notify=False,
        )
        # What payments does once the placed order is committed, done now: the courier's
        # cash is collected into this payment when the parcels arrive.
        open_placed_order(order=order)
        parcels = []
        for step in history:
            yield step.at
            for parcel in parcels:
                track_shipment(shipment=parcel, now=step.at)
            by = user if step.by_customer else staff
            if step.status == Status.CANCELLED:
                cancel_order(order=order, user=by, note=step.note, notify=False)
            elif step.status == Status.PAID:
                mark_order_transfer_received(order=order, user=staff, paid_at=step.at, notify=False)
            elif step.status == Status.SHIPPED:
                parcels = pack_demo_order(order, at=step.at, staff=staff)
            else:
                change_status(order=order, to_status=step.status, user=by, note=step.note)
        for parcel in parcels:
            track_shipment(shipment=parcel, now=until)
        date_demo_history(order, placed_at=placed_at, history=history)
        return order
