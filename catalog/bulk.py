"""Bulk catalog writes: CSV rows checked all together, then upserted by SKU in one transaction.

`import_catalog`, `export_catalog` and `seed_demo` all come through here, so a row typed in a
spreadsheet and a row drawn by the demo seeder obey the same rules, and the figures listings
filter on (`Product.min_price`, `Product.in_stock`) stay right after thousands of rows written
with `bulk_create`.

One row is one variant. The product columns repeat on every row of the same `product_slug` and
must agree. A column left out of a file keeps what the catalog has (or the default for a new
product or variant); only `sku`, `product_slug`, `title`, `category` and `price` are required.
A product is tagged with every option its variants come in, besides the attributes named in
`product_attributes`, so filtering products by colour or size finds it. A changed price of an
existing variant goes through `services.change_prices`, so it is in the price history.
"""

import csv
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from .models import Attribute, AttributeValue, Brand, Category, PriceHistory, Product, Variant
from .services import KEEP, NewPrice, change_prices, refresh_product_figures

COLUMNS = (
    "sku",
    "product_slug",
    "title",
    "description",
    "category",
    "brand",
    "product_active",
    "product_attributes",
    "variant_name",
    "price",
    "compare_at_price",
    "weight_grams",
    "active",
    "attributes",
)
REQUIRED_COLUMNS = ("sku", "product_slug", "title", "category", "price")
# Columns that describe the product, so every row of one product must say the same.
PRODUCT_COLUMNS = (
    "title",
    "description",
    "category",
    "brand",
    "product_active",
    "product_attributes",
)
CATEGORY_SEPARATOR = "/"
PAIR_SEPARATOR = ";"
TRUE_WORDS = {"true", "yes", "1", "y"}
FALSE_WORDS = {"false", "no", "0", "n"}
MAX_PRICE = Decimal("99999999.99")
MAX_WEIGHT = 2_147_483_647
CHUNK = 500

Options = frozenset  # of (attribute slug, casefolded value) pairs


class CatalogImportError(Exception):
    """Rows that cannot be imported; `errors` lists every one, so one run shows them all."""

    def __init__(self, errors):
        self.errors = sorted(errors, key=lambda error: error.row)
        bad_rows = len({error.row for error in self.errors})
        super().__init__(f"{bad_rows} row(s) are invalid; nothing was written.")


class CatalogFileError(Exception):
    """The file as a whole cannot be read as a catalog (not CSV, missing columns, no rows)."""


class CatalogExportError(Exception):
    """A name in the catalog cannot be written in a form that import would read back."""


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str

    def __str__(self):
        return f"row {self.row}: {self.reason}"


@dataclass(frozen=True)
class CatalogRow:
    """One variant as a file states it; `row` counts the header as row 1, as a spreadsheet does."""

    row: int
    sku: str
    product_slug: str
    title: str
    category: tuple[str, ...]
    price: Decimal
    description: str = ""
    brand: str = ""
    product_active: bool = True
    product_attributes: tuple[tuple[str, str], ...] = ()
    variant_name: str = ""
    compare_at_price: Decimal | None = None
    weight_grams: int = 0
    active: bool = True
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created_categories: list[str] = field(default_factory=list)
    created_brands: list[str] = field(default_factory=list)
    created_attribute_values: list[str] = field(default_factory=list)
    created_products: list[str] = field(default_factory=list)
    updated_products: dict[str, list[str]] = field(default_factory=dict)
    created_variants: list[str] = field(default_factory=list)
    updated_variants: dict[str, list[str]] = field(default_factory=dict)
    unchanged_variants: int = 0

    @property
    def changed(self):
        return bool(
            self.created_categories
            or self.created_brands
            or self.created_attribute_values
            or self.created_products
            or self.updated_products
            or self.created_variants
            or self.updated_variants
        )

    def summary(self):
        prefix = "Dry run, nothing written" if self.dry_run else "Imported"
        how = "to create" if self.dry_run else "created"
        update = "to update" if self.dry_run else "updated"
        counts = [
            (len(self.created_products), "product", "products", how),
            (len(self.updated_products), "product", "products", update),
            (len(self.created_variants), "variant", "variants", how),
            (len(self.updated_variants), "variant", "variants", update),
            (len(self.created_categories), "category", "categories", how),
            (len(self.created_brands), "brand", "brands", how),
            (len(self.created_attribute_values), "attribute value", "attribute values", how),
        ]
        done = ", ".join(
            f"{n} {one if n == 1 else many} {verb}" for n, one, many, verb in counts if n
        )
        return (
            f"{prefix}: {self.rows} rows; {done or 'no changes'}; "
            f"{self.unchanged_variants} variants unchanged."
        )

    def changes(self):
        """One line per change, for an operator to read before running without --dry-run."""
        lines = [f"new category {path}" for path in self.created_categories]
        lines += [f"new brand {name}" for name in self.created_brands]
        lines += [f"new attribute value {value}" for value in self.created_attribute_values]
        lines += [f"new product {slug}" for slug in self.created_products]
        lines += [
            f"product {slug}: {', '.join(fields)}" for slug, fields in self.updated_products.items()
        ]
        lines += [f"new variant {sku}" for sku in self.created_variants]
        lines += [
            f"variant {sku}: {', '.join(fields)}" for sku, fields in self.updated_variants.items()
        ]
        return lines


# Reading and checking rows


def read_catalog_csv(file):
    """Parse an open text file into checked rows and the columns it has.

    Raises `CatalogFileError` when the file itself is unusable and `CatalogImportError`
    listing every bad row otherwise. Blank lines are skipped but counted, so row numbers
    match what a spreadsheet shows.
    """
    try:
        reader = csv.reader(file)
        header = next(reader, None)
        if not header:
            raise CatalogFileError("The file is empty: expected a header row naming the columns.")
        columns = [name.strip() for name in header]
        _check_header(columns)
        records = [
            (number, fields)
            for number, fields in enumerate(reader, start=2)
            if any(value.strip() for value in fields)
        ]
    except csv.Error as error:
        raise CatalogFileError(f"The file is not valid CSV: {error}.") from None
    except UnicodeDecodeError:
        raise CatalogFileError("The file is not UTF-8 text.") from None
    if not records:
        raise CatalogFileError("The file has a header but no rows.")
    return parse_rows(records, columns=columns), tuple(columns)


def _check_header(columns):
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise CatalogFileError(f"Columns named twice: {', '.join(duplicated)}.")
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        raise CatalogFileError(
            f"Unknown columns: {', '.join(unknown)} (expected some of: {', '.join(COLUMNS)})."
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise CatalogFileError(f"Missing required columns: {', '.join(missing)}.")


def parse_rows(records, *, columns):
    """Check every record (row number, list of fields) and return `CatalogRow`s.

    Every problem in every row is collected before raising, so an operator fixes the file
    in one pass rather than one error per run.
    """
    rows, errors = [], []
    for number, record in records:
        row, reasons = _parse_record(number, record, columns)
        errors += [RowError(number, reason) for reason in reasons]
        if row is not None:
            rows.append(row)
    errors += _cross_row_errors(rows, columns)
    if errors:
        raise CatalogImportError(errors)
    return rows


def _parse_record(number, fields, columns):
    if len(fields) != len(columns):
        return None, [f"has {len(fields)} fields but the header names {len(columns)}"]
    text = {name: value.strip() for name, value in zip(columns, fields, strict=True)}
    reasons = []
    values = {}

    def take(name, parse):
        if name not in text:
            return
        try:
            values[name] = parse(text[name])
        except ValueError as error:
            reasons.append(f"{name}: {error}")

    take("sku", _parse_sku)
    take("product_slug", _parse_slug)
    take("title", lambda value: _required_text(value, max_length=200))
    take("description", lambda value: value)
    take("category", _parse_category)
    take("brand", lambda value: _optional_text(value, max_length=120))
    take("product_active", _parse_bool)
    take("product_attributes", _parse_pairs)
    take("variant_name", lambda value: _optional_text(value, max_length=120))
    take("price", _parse_price)
    take("compare_at_price", lambda value: _parse_price(value) if value else None)
    take("weight_grams", _parse_weight)
    take("active", _parse_bool)
    take("attributes", _parse_pairs)
    compare_at, price = values.get("compare_at_price"), values.get("price")
    if compare_at is not None and price is not None and compare_at <= price:
        reasons.append(f"compare_at_price {compare_at} must be above price {price}")
    if reasons:
        return None, reasons
    return CatalogRow(row=number, **values), []


def _cross_row_errors(rows, columns):
    errors = []
    first_by_sku = {}
    first_by_product = {}
    for row in rows:
        if row.sku in first_by_sku:
            errors.append(
                RowError(row.row, f"SKU {row.sku} is already on row {first_by_sku[row.sku]}")
            )
        else:
            first_by_sku[row.sku] = row.row
        first = first_by_product.setdefault(row.product_slug, row)
        for name in PRODUCT_COLUMNS:
            if name in columns and getattr(row, name) != getattr(first, name):
                errors.append(
                    RowError(
                        row.row,
                        f"{name} differs from row {first.row} of the same product "
                        f"{row.product_slug}",
                    )
                )
    return errors


def _parse_sku(value):
    value = _required_text(value, max_length=64)
    if any(char.isspace() for char in value):
        raise ValueError(f"“{value}” contains spaces")
    return value


def _parse_slug(value):
    value = _required_text(value, max_length=220)
    try:
        validate_slug(value)
    except ValidationError:
        raise ValueError(
            f"“{value}” is not a slug (letters, digits, hyphens and underscores)"
        ) from None
    return value


def _required_text(value, *, max_length):
    if not value:
        raise ValueError("is required")
    return _optional_text(value, max_length=max_length)


def _optional_text(value, *, max_length):
    if len(value) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    return value


def _parse_category(value):
    path = tuple(part.strip() for part in value.split(CATEGORY_SEPARATOR))
    if not value or not all(path):
        raise ValueError(f"“{value}” is not a path such as Clothing/Men/T-shirts")
    for part in path:
        _optional_text(part, max_length=120)
    return path


def _parse_bool(value):
    word = value.casefold()
    if not word or word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"“{value}” is not true or false")


def _parse_price(value):
    if not value:
        raise ValueError("is required")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"“{value}” is not a number such as 19.99") from None
    if not amount.is_finite():
        raise ValueError(f"“{value}” is not a number such as 19.99")
    if amount < 0:
        raise ValueError(f"{value} is negative")
    if amount > MAX_PRICE:
        raise ValueError(f"{value} is above {MAX_PRICE}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{value} has more than two decimal places")
    return amount.quantize(Decimal("0.01"))


def _parse_weight(value):
    if not value:
        return 0
    if not value.isdigit() or int(value) > MAX_WEIGHT:
        raise ValueError(f"“{value}” is not a whole number of grams")
    return int(value)


def _parse_pairs(value):
    """Read "colour=Red;size=M" into (("colour", "Red"), ("size", "M"))."""
    pairs, seen = [], set()
    for item in filter(None, (part.strip() for part in value.split(PAIR_SEPARATOR))):
        name, equals, text = (part.strip() for part in item.partition("="))
        if not equals or not name or not text:
            raise ValueError(f"“{item}” is not name=value, as in colour=Red")
        if len(name) > 60 or len(text) > 60:
            raise ValueError(f"“{item}” is longer than 60 characters on one side")
        if not slugify(name):
            raise ValueError(f"“{name}” cannot name an attribute")
        if slugify(name) in seen:
            raise ValueError(f"{name} is given twice")
        seen.add(slugify(name))
        pairs.append((name, text))
    return tuple(pairs)


# Writing


def upsert_catalog(*, rows, columns=COLUMNS, dry_run=False, user=None, reason=""):
    """Create or update the products and variants of checked rows, matching variants by SKU.

    Everything happens in one transaction: either every row is written or, on any problem
    the catalog itself reveals (a SKU that belongs to another product, a kept compare-at
    price that the new price passes), nothing is and `CatalogImportError` lists the rows.
    A dry run plans the same changes and reports them without writing anything. Price
    changes go to the price history as an import by `user` (None from a command) for `reason`.
    """
    rows = list(rows)
    with transaction.atomic():
        plan = _Plan(rows, columns)
        if plan.errors:
            raise CatalogImportError(plan.errors)
        if not dry_run:
            plan.apply(user=user, reason=reason or _("Catalog import"))
    return plan.report(dry_run=dry_run)


def ensure_category(*, path, slug="", description="", position=0):
    """Return the category at this path of names, creating the missing ones along the way.

    A category that exists is returned untouched, so running a seeder twice changes nothing.
    """
    parent = None
    with transaction.atomic():
        for depth, name in enumerate(path, start=1):
            category = Category.objects.filter(parent=parent, name__iexact=name).first()
            if category is None:
                last = depth == len(path)
                category = Category.objects.create(
                    parent=parent,
                    name=name,
                    slug=(slug if last and slug else "") or _free_category_slug(name, parent),
                    description=description if last else "",
                    position=position if last else 0,
                )
            parent = category
    return parent


def ensure_attribute(*, slug, name, position=0, values=()):
    """Return the attribute with this slug and its values, creating what is missing.

    Values are created in the order given, which is the order shoppers see them in
    (XS, S, M, L rather than alphabetical); existing ones are left as staff set them.
    """
    with transaction.atomic():
        attribute, _created = Attribute.objects.get_or_create(
            slug=slug, defaults={"name": name, "position": position}
        )
        existing = {value.value.casefold() for value in attribute.values.all()}
        taken = set(attribute.values.values_list("slug", flat=True))
        for index, text in enumerate(values):
            if text.casefold() in existing:
                continue
            value_slug = _first_free(
                [slugify(text, allow_unicode=True) or "value"], taken, model=AttributeValue
            )
            taken.add(value_slug)
            AttributeValue.objects.create(
                attribute=attribute, value=text, slug=value_slug, position=index
            )
    return attribute


def _free_category_slug(name, parent):
    base = slugify(name) or "category"
    candidates = [base]
    if parent is not None:
        candidates.append(f"{parent.slug}-{base}")
    return _first_free(candidates, Category.objects.values_list("slug", flat=True), model=Category)


def _first_free(candidates, taken_slugs, *, model):
    """The first candidate slug not taken, else the last one numbered, within the field's length."""
    max_length = model._meta.get_field("slug").max_length
    taken = set(taken_slugs)
    for candidate in candidates:
        if candidate[:max_length] not in taken:
            return candidate[:max_length]
    number = 2
    while True:
        suffix = f"-{number}"
        numbered = candidates[-1][: max_length - len(suffix)] + suffix
        if numbered not in taken:
            return numbered
        number += 1


def _update_changed_fields(model, changed):
    """bulk_update (object, changed field names) pairs, each group on just its changed fields.

    bulk_update writes a CASE per field per row, which is what makes it slow: grouped like
    this, a file that only changes prices updates prices only.
    """
    groups = {}
    for instance, fields in changed:
        names = tuple(sorted(set(fields) - {"attributes"}))
        groups.setdefault(names, []).append(instance)
    for names, instances in groups.items():
        model.objects.bulk_update(instances, names, batch_size=CHUNK)


def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Catalog:
    """The reference data rows point at (categories, brands, attributes), loaded once."""

    def __init__(self):
        self.categories = {category.pk: category for category in Category.objects.all()}
        self.category_by_name = {
            (category.parent_id, category.name.casefold()): category
            for category in self.categories.values()
        }
        self.brand_by_name = {brand.name.casefold(): brand for brand in Brand.objects.all()}
        self.attributes = list(Attribute.objects.all())
        self.values = {
            value.pk: value for value in AttributeValue.objects.select_related("attribute")
        }
        self.value_by_key = {self.key_of(value): value for value in self.values.values()}

    @staticmethod
    def key_of(value):
        return (value.attribute.slug, value.value.casefold())

    def category_path(self, category_id):
        names = []
        while category_id is not None:
            category = self.categories[category_id]
            names.append(category.name)
            category_id = category.parent_id
        return tuple(reversed(names))

    def find_category(self, path):
        category = None
        for name in path:
            category = self.category_by_name.get(
                (category.pk if category else None, name.casefold())
            )
            if category is None:
                return None
        return category

    def attribute_slug(self, name):
        for attribute in self.attributes:
            if attribute.slug == slugify(name) or attribute.name.casefold() == name.casefold():
                return attribute.slug
        return slugify(name)

    def option_key(self, name, text):
        """The (attribute slug, value) an option names, matching existing spellings."""
        slug = self.attribute_slug(name)
        for value in self.values.values():
            if value.attribute.slug == slug and (
                value.value.casefold() == text.casefold() or value.slug == slugify(text)
            ):
                return self.key_of(value)
        return (slug, text.casefold())


class _Plan:
    """What an import changes, worked out from the rows and the catalog before any write."""

    def __init__(self, rows, columns):
        self.rows = rows
        self.columns = set(columns)
        self.errors = []
        self.catalog = _Catalog()
        self.option_cache = {}
        self.spelling = {}  # option key → (attribute name, value) as first written
        self.new_categories = {}  # casefolded path → path as written
        self.new_brands = {}  # casefolded name → name as written
        self.new_values = set()
        self.product_changes = {}  # slug → changed field names
        self.variant_changes = {}  # sku → changed field names
        self._load_existing()
        self._plan_products()
        self._plan_variants()
        self._plan_product_attributes()

    def has(self, column):
        return column in self.columns

    def options(self, pairs):
        keys = set()
        for name, text in pairs:
            if (name, text) not in self.option_cache:
                key = self.catalog.option_key(name, text)
                self.option_cache[(name, text)] = key
                self.spelling.setdefault(key, (name, text))
                if key not in self.catalog.value_by_key:
                    self.new_values.add(key)
            keys.add(self.option_cache[(name, text)])
        return Options(keys)

    def _load_existing(self):
        slugs = list(dict.fromkeys(row.product_slug for row in self.rows))
        skus = [row.sku for row in self.rows]
        self.products = {}
        for chunk in _chunks(slugs):
            self.products.update(
                (product.slug, product) for product in Product.objects.filter(slug__in=chunk)
            )
        self.variants = {}
        for chunk in _chunks(skus):
            self.variants.update(
                (variant.sku, variant) for variant in Variant.objects.filter(sku__in=chunk)
            )
        product_ids = [product.pk for product in self.products.values()]
        # Every variant of the products in the file, for the options a product is tagged with.
        self.siblings = {}
        self.variant_options = {}
        self.product_attributes = {pk: set() for pk in product_ids}
        for chunk in _chunks(product_ids):
            for variant in Variant.objects.filter(product_id__in=chunk).only(
                "pk", "sku", "product_id", "position"
            ):
                self.siblings.setdefault(variant.product_id, []).append(variant)
                self.variant_options[variant.pk] = set()
            for variant_id, value_id in Variant.options.through.objects.filter(
                variant__product_id__in=chunk
            ).values_list("variant_id", "attributevalue_id"):
                self.variant_options[variant_id].add(
                    self.catalog.key_of(self.catalog.values[value_id])
                )
            for product_id, value_id in Product.attributes.through.objects.filter(
                product_id__in=chunk
            ).values_list("product_id", "attributevalue_id"):
                self.product_attributes[product_id].add(
                    self.catalog.key_of(self.catalog.values[value_id])
                )

    def _category_key(self, path):
        category = self.catalog.find_category(path)
        if category is not None:
            return category.pk
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            if self.catalog.find_category(prefix) is None:
                self.new_categories.setdefault(tuple(p.casefold() for p in prefix), prefix)
        return tuple(part.casefold() for part in path)

    def _brand_key(self, name):
        if not name:
            return None
        brand = self.catalog.brand_by_name.get(name.casefold())
        if brand is not None:
            return brand.pk
        self.new_brands.setdefault(name.casefold(), name)
        return name.casefold()

    def _plan_products(self):
        """Decide each product's fields; the attribute set waits for the variants."""
        self.product_targets = {}
        self.declared = {}
        for row in self.rows:
            if row.product_slug in self.product_targets:
                continue
            product = self.products.get(row.product_slug)
            target = {"title": row.title, "category": self._category_key(row.category)}
            if self.has("description"):
                target["description"] = row.description
            if self.has("brand"):
                target["brand"] = self._brand_key(row.brand)
            if self.has("product_active"):
                target["is_active"] = row.product_active
            if self.has("product_attributes"):
                self.declared[row.product_slug] = self.options(row.product_attributes)
            self.product_targets[row.product_slug] = target
            if product is None:
                self.product_changes[row.product_slug] = None
                continue
            current = {
                "title": product.title,
                "category": product.category_id,
                "description": product.description,
                "brand": product.brand_id,
                "is_active": product.is_active,
            }
            changed = [name for name, value in target.items() if current[name] != value]
            if changed:
                self.product_changes[row.product_slug] = changed

    def _plan_variants(self):
        self.variant_targets = {}
        self.option_targets = {}
        next_position = {}
        for row in self.rows:
            variant = self.variants.get(row.sku)
            product = self.products.get(row.product_slug)
            if variant is not None and (product is None or variant.product_id != product.pk):
                owner = Product.objects.filter(pk=variant.product_id).values_list("slug", flat=True)
                self.errors.append(
                    RowError(
                        row.row,
                        f"SKU {row.sku} belongs to product {owner.first()}, not {row.product_slug}",
                    )
                )
                continue
            target = {"price": row.price}
            for column, name in (
                ("variant_name", "name"),
                ("compare_at_price", "compare_at_price"),
                ("weight_grams", "weight_grams"),
                ("active", "is_active"),
            ):
                if self.has(column):
                    target[name] = getattr(row, column)
            if self.has("attributes"):
                self.option_targets[row.sku] = self.options(row.attributes)
            compare_at = target.get(
                "compare_at_price", variant.compare_at_price if variant else None
            )
            if compare_at is not None and compare_at <= row.price:
                self.errors.append(
                    RowError(
                        row.row,
                        f"price {row.price} is not below the compare-at price {compare_at} "
                        f"the catalog keeps for {row.sku}; give a compare_at_price column",
                    )
                )
                continue
            if variant is None:
                if row.product_slug not in next_position:
                    next_position[row.product_slug] = (
                        len(self.siblings.get(product.pk, [])) if product else 0
                    )
                target["position"] = next_position[row.product_slug]
                next_position[row.product_slug] += 1
                self.variant_targets[row.sku] = target
                self.variant_changes[row.sku] = None
                continue
            self.variant_targets[row.sku] = target
            changed = [name for name, value in target.items() if getattr(variant, name) != value]
            if row.sku in self.option_targets and self.option_targets[row.sku] != Options(
                self.variant_options[variant.pk]
            ):
                changed.append("attributes")
            if changed:
                self.variant_changes[row.sku] = changed

    def _plan_product_attributes(self):
        """Tag each product with its declared attributes and every option of its variants."""
        self.attribute_targets = {}
        file_options = {}
        for row in self.rows:
            file_options.setdefault(row.product_slug, {})[row.sku] = self.option_targets.get(
                row.sku
            )
        for slug, by_sku in file_options.items():
            product = self.products.get(slug)
            kept_options = set()
            current = set()
            if product is not None:
                current = self.product_attributes[product.pk]
                for sibling in self.siblings.get(product.pk, []):
                    options = by_sku.get(sibling.sku)
                    if options is None:
                        kept_options |= self.variant_options[sibling.pk]
            options = set().union(kept_options, *(o for o in by_sku.values() if o is not None))
            if slug in self.declared:
                declared = set(self.declared[slug])
            else:
                every_option = (
                    set().union(
                        *(self.variant_options[s.pk] for s in self.siblings.get(product.pk, []))
                    )
                    if product is not None
                    else set()
                )
                declared = current - every_option
            target = Options(declared | options)
            self.attribute_targets[slug] = target
            if product is not None and target != Options(current):
                changes = self.product_changes.setdefault(slug, [])
                changes.append("attributes")

    def report(self, *, dry_run):
        created_products = [s for s, c in self.product_changes.items() if c is None]
        created_variants = [s for s, c in self.variant_changes.items() if c is None]
        return ImportReport(
            dry_run=dry_run,
            rows=len(self.rows),
            created_categories=[
                CATEGORY_SEPARATOR.join(path) for path in self.new_categories.values()
            ],
            created_brands=list(self.new_brands.values()),
            created_attribute_values=[
                "=".join(self.spelling[key]) for key in sorted(self.new_values)
            ],
            created_products=created_products,
            updated_products={s: c for s, c in self.product_changes.items() if c is not None},
            created_variants=created_variants,
            updated_variants={s: c for s, c in self.variant_changes.items() if c is not None},
            unchanged_variants=len(self.variant_targets) - len(self.variant_changes),
        )

    # Applying

    def apply(self, *, user, reason):
        categories = self._create_categories()
        brands = self._create_brands()
        values = self._create_values()
        products = self._write_products(categories, brands)
        variants = self._write_variants(products, user=user, reason=reason)
        self._write_options(variants, values)
        self._write_product_attributes(products, values)
        touched_products = {products[slug].pk for slug in self.product_changes} | {
            variants[sku].product_id for sku in self.variant_changes
        }
        for chunk in _chunks(touched_products):
            refresh_product_figures(product_ids=chunk)

    def _create_categories(self):
        created = {}
        for key, path in sorted(self.new_categories.items(), key=lambda item: len(item[0])):
            parent = created.get(key[:-1]) or self.catalog.find_category(path[:-1])
            category = Category.objects.create(
                parent=parent,
                name=path[-1],
                slug=_free_category_slug(path[-1], parent),
            )
            created[key] = category
        return created

    def _create_brands(self):
        created = {}
        taken = set(Brand.objects.values_list("slug", flat=True))
        for key, name in self.new_brands.items():
            slug = _first_free([slugify(name) or "brand"], taken, model=Brand)
            taken.add(slug)
            created[key] = Brand.objects.create(name=name, slug=slug)
        return created

    def _create_values(self):
        """Create missing attributes and values; return every option key's value id."""
        attributes = {attribute.slug: attribute for attribute in self.catalog.attributes}
        ids = {key: value.pk for key, value in self.catalog.value_by_key.items()}
        for key in sorted(self.new_values):
            attribute_slug, _text = key
            name, text = self.spelling[key]
            if attribute_slug not in attributes:
                attributes[attribute_slug] = Attribute.objects.create(
                    name=name.capitalize(), slug=attribute_slug, position=len(attributes)
                )
            attribute = attributes[attribute_slug]
            slug = _first_free(
                [slugify(text, allow_unicode=True) or "value"],
                AttributeValue.objects.filter(attribute=attribute).values_list("slug", flat=True),
                model=AttributeValue,
            )
            value = AttributeValue.objects.create(attribute=attribute, value=text, slug=slug)
            ids[key] = value.pk
        return ids

    def _resolve(self, target, categories, brands):
        fields = dict(target)
        category = fields.pop("category")
        fields["category_id"] = category if isinstance(category, int) else categories[category].pk
        if "brand" in fields:
            brand = fields.pop("brand")
            fields["brand_id"] = brands[brand].pk if isinstance(brand, str) else brand
        return fields

    def _write_products(self, categories, brands):
        new, changed = [], []
        for slug, changes in self.product_changes.items():
            fields = self._resolve(self.product_targets[slug], categories, brands)
            if changes is None:
                new.append(Product(slug=slug, **fields))
            elif set(changes) - {"attributes"}:
                product = self.products[slug]
                for name, value in fields.items():
                    setattr(product, name, value)
                product.updated_at = timezone.now()
                changed.append((product, [*changes, "updated_at"]))
        Product.objects.bulk_create(new, batch_size=CHUNK)
        _update_changed_fields(Product, changed)
        products = dict(self.products)
        products.update((product.slug, product) for product in new)
        return products

    def _write_variants(self, products, *, user, reason):
        """Create new variants and update changed ones; changed prices go through the service.

        The other fields are written first, around the old price and compare-at price, which
        agree; then the service moves both together, so the "above price" rule always holds.
        """
        new, changed, new_prices = [], [], []
        for row in self.rows:
            changes = self.variant_changes.get(row.sku, [])
            fields = self.variant_targets[row.sku]
            if changes is None:
                new.append(Variant(sku=row.sku, product=products[row.product_slug], **fields))
                continue
            variant = self.variants[row.sku]
            others = set(changes) - {"attributes"}
            if "price" in changes:
                others -= {"price", "compare_at_price"}
                new_prices.append(
                    NewPrice(
                        variant_id=variant.pk,
                        price=fields["price"],
                        compare_at_price=fields.get("compare_at_price", KEEP),
                    )
                )
            if others:
                for name in others:
                    setattr(variant, name, fields[name])
                changed.append((variant, others))
        Variant.objects.bulk_create(new, batch_size=CHUNK)
        _update_changed_fields(Variant, changed)
        change_prices(changes=new_prices, kind=PriceHistory.Kind.IMPORT, user=user, reason=reason)
        variants = dict(self.variants)
        variants.update((variant.sku, variant) for variant in new)
        return variants

    def _write_options(self, variants, values):
        through = Variant.options.through
        renewed = {
            sku: options
            for sku, options in self.option_targets.items()
            if self.variant_changes.get(sku, []) is None
            or "attributes" in self.variant_changes.get(sku, [])
        }
        ids = [variants[sku].pk for sku in renewed]
        for chunk in _chunks(ids):
            through.objects.filter(variant_id__in=chunk).delete()
        through.objects.bulk_create(
            (
                through(variant_id=variants[sku].pk, attributevalue_id=values[key])
                for sku, options in renewed.items()
                for key in sorted(options)
            ),
            batch_size=CHUNK * 4,
        )

    def _write_product_attributes(self, products, values):
        through = Product.attributes.through
        renewed = {
            slug: target
            for slug, target in self.attribute_targets.items()
            if self.product_changes.get(slug, []) is None
            or "attributes" in self.product_changes.get(slug, [])
        }
        ids = [products[slug].pk for slug in renewed]
        for chunk in _chunks(ids):
            through.objects.filter(product_id__in=chunk).delete()
        through.objects.bulk_create(
            (
                through(product_id=products[slug].pk, attributevalue_id=values[key])
                for slug, target in renewed.items()
                for key in sorted(target)
            ),
            batch_size=CHUNK * 4,
        )


# Export


def export_catalog(file):
    """Write every variant as a CSV row in the columns import reads; return the row count.

    The file read back by import changes nothing. A product without variants has no row.
    """
    catalog = _Catalog()
    paths = {pk: catalog.category_path(pk) for pk in catalog.categories}
    for path in paths.values():
        for name in path:
            if CATEGORY_SEPARATOR in name:
                raise CatalogExportError(
                    f"Category “{name}” contains “{CATEGORY_SEPARATOR}”; rename it to export."
                )
    writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    product_ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    for chunk in _chunks(product_ids):
        products = Product.objects.select_related("brand").in_bulk(chunk)
        variants = list(
            Variant.objects.filter(product_id__in=chunk).order_by("product_id", "position", "pk")
        )
        options = {variant.pk: set() for variant in variants}
        for variant_id, value_id in Variant.options.through.objects.filter(
            variant__product_id__in=chunk
        ).values_list("variant_id", "attributevalue_id"):
            options[variant_id].add(value_id)
        attributes = {pk: set() for pk in chunk}
        for product_id, value_id in Product.attributes.through.objects.filter(
            product_id__in=chunk
        ).values_list("product_id", "attributevalue_id"):
            attributes[product_id].add(value_id)
        every_option = {}
        for variant in variants:
            every_option.setdefault(variant.product_id, set()).update(options[variant.pk])
        for variant in variants:
            product = products[variant.product_id]
            declared = attributes[product.pk] - every_option[product.pk]
            writer.writerow(
                {
                    "sku": variant.sku,
                    "product_slug": product.slug,
                    "title": product.title,
                    "description": product.description,
                    "category": CATEGORY_SEPARATOR.join(paths[product.category_id]),
                    "brand": product.brand.name if product.brand else "",
                    "product_active": _bool_text(product.is_active),
                    "product_attributes": _pairs_text(declared, catalog),
                    "variant_name": variant.name,
                    "price": f"{variant.price:.2f}",
                    "compare_at_price": (
                        f"{variant.compare_at_price:.2f}"
                        if variant.compare_at_price is not None
                        else ""
                    ),
                    "weight_grams": variant.weight_grams,
                    "active": _bool_text(variant.is_active),
                    "attributes": _pairs_text(options[variant.pk], catalog),
                }
            )
            count += 1
    return count


def _bool_text(value):
    return "true" if value else "false"


def _pairs_text(value_ids, catalog):
    values = sorted(
        (catalog.values[pk] for pk in value_ids),
        key=lambda v: (v.attribute.position, v.attribute.slug, v.position, v.value),
    )
    for value in values:
        if PAIR_SEPARATOR in value.value or value.value != value.value.strip():
            raise CatalogExportError(
                f"Attribute value “{value.value}” contains “{PAIR_SEPARATOR}” or edge spaces; "
                "rename it to export."
            )
    return PAIR_SEPARATOR.join(f"{value.attribute.slug}={value.value}" for value in values)
