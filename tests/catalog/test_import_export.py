import csv
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Category, Product, Variant
from shipping.services import receive_stock
from tests.catalog.factories import (
    AttributeFactory,
    AttributeValueFactory,
    BrandFactory,
    CategoryFactory,
    ProductFactory,
    VariantFactory,
)
from tests.shipping.factories import WarehouseFactory

pytestmark = pytest.mark.django_db

HEADER = [
    "sku",
    "product_slug",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "compare_at_price",
    "weight_grams",
    "active",
    "attributes",
]


def write_csv(path, rows, header=HEADER):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def run(command, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def tee_rows():
    return [
        [
            "TEE-RED-M",
            "basic-tee",
            "Basic Tee",
            "Soft cotton.",
            "Clothing/Men/T-shirts",
            "Acme",
            "19.99",
            "24.99",
            "180",
            "true",
            "colour=Red;size=M",
        ],
        [
            "TEE-RED-L",
            "basic-tee",
            "Basic Tee",
            "Soft cotton.",
            "Clothing/Men/T-shirts",
            "Acme",
            "17.50",
            "",
            "190",
            "true",
            "colour=Red;size=L",
        ],
    ]


def test_import_creates_the_category_path_products_and_variants(tmp_path):
    out, _err = run("import_catalog", write_csv(tmp_path / "tees.csv", tee_rows()))

    product = Product.objects.get(slug="basic-tee")
    assert product.title == "Basic Tee"
    assert product.brand.name == "Acme"
    path = [product.category.parent.parent.name, product.category.parent.name]
    assert path + [product.category.name] == ["Clothing", "Men", "T-shirts"]
    assert product.min_price == Decimal("17.50")
    assert product.in_stock is False
    variant = Variant.objects.get(sku="TEE-RED-M")
    assert variant.compare_at_price == Decimal("24.99")
    assert variant.weight_grams == 180
    assert sorted(value.value for value in variant.options.all()) == ["M", "Red"]
    # The product is found by every option its variants come in.
    assert sorted(value.value for value in product.attributes.all()) == ["L", "M", "Red"]
    assert "Imported: 2 rows; 1 product created, 2 variants created" in out


def test_a_bad_file_is_rejected_without_writing_anything(tmp_path):
    existing = VariantFactory(sku="TEE-RED-M", price=Decimal("30.00"), product__slug="basic-tee")
    rows = tee_rows()
    rows.append(["MUG-1", "mug", "Mug", "", "Home", "", "abc", "", "", "", ""])

    with pytest.raises(CommandError) as failure:
        run("import_catalog", write_csv(tmp_path / "bad.csv", rows))

    message = str(failure.value)
    assert message.endswith("1 row(s) are invalid; nothing was written.")
    assert "\n" not in message
    existing.refresh_from_db()
    assert existing.price == Decimal("30.00")
    assert not Variant.objects.filter(sku="TEE-RED-L").exists()
    assert not Category.objects.filter(name="Clothing").exists()


def test_row_errors_are_listed_with_row_numbers_and_reasons(tmp_path, capsys):
    rows = tee_rows()
    rows[1][6] = "abc"
    rows.append(["TEE-RED-M", "basic-tee", "", "", "Clothing", "", "5.00", "4.00", "", "", ""])
    rows.append(["X-1", "not a slug", "X", "", "Home", "", "-1", "", "1.5", "maybe", "colour"])
    path = write_csv(tmp_path / "bad.csv", rows)
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_catalog", path, stdout=io.StringIO(), stderr=err)

    listed = err.getvalue().splitlines()
    assert "row 3: price: “abc” is not a number such as 19.99" in listed
    assert "row 4: title: is required" in listed
    assert "row 4: compare_at_price 4.00 must be above price 5.00" in listed
    assert any(line.startswith("row 5: product_slug:") for line in listed)
    assert "row 5: price: -1 is negative" in listed
    assert "row 5: weight_grams: “1.5” is not a whole number of grams" in listed
    assert "row 5: active: “maybe” is not true or false" in listed
    assert any(line.startswith("row 5: attributes:") for line in listed)


def test_a_sku_that_belongs_to_another_product_is_refused(tmp_path):
    VariantFactory(sku="TEE-RED-M", product__slug="other-tee")
    path = write_csv(tmp_path / "moved.csv", tee_rows())
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_catalog", path, stdout=io.StringIO(), stderr=err)

    assert "row 2: SKU TEE-RED-M belongs to product other-tee, not basic-tee" in err.getvalue()
    assert not Product.objects.filter(slug="basic-tee").exists()


def test_rows_of_one_product_must_agree_on_the_product(tmp_path):
    rows = tee_rows()
    rows[1][2] = "Basic Tee II"
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command(
            "import_catalog", write_csv(tmp_path / "t.csv", rows), stdout=io.StringIO(), stderr=err
        )

    assert "row 3: title differs from row 2 of the same product basic-tee" in err.getvalue()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "The file is empty"),
        ("sku,product_slug,title\nA,a,A\n", "Missing required columns: category, price"),
        ("sku,product_slug,title,category,price,prcie\n", "Unknown columns: prcie"),
        ("sku,product_slug,title,category,price\n", "The file has a header but no rows"),
    ],
)
def test_an_unusable_file_is_refused_in_one_line(tmp_path, content, reason):
    path = tmp_path / "broken.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError, match=reason):
        run("import_catalog", str(path))


def test_a_missing_file_is_refused_in_one_line(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_catalog", str(tmp_path / "nope.csv"))


def test_dry_run_reports_what_would_change_and_writes_nothing(tmp_path):
    variant = VariantFactory(sku="TEE-RED-M", price=Decimal("30.00"), product__slug="basic-tee")
    path = write_csv(tmp_path / "tees.csv", tee_rows())

    out, _err = run("import_catalog", path, "--dry-run")

    assert "new variant TEE-RED-L" in out
    assert "variant TEE-RED-M: price" in out
    assert "Dry run, nothing written" in out
    variant.refresh_from_db()
    assert variant.price == Decimal("30.00")
    assert not Variant.objects.filter(sku="TEE-RED-L").exists()
    assert not Category.objects.filter(name="Clothing").exists()


def test_columns_left_out_keep_what_the_catalog_has(tmp_path):
    variant = VariantFactory(sku="MUG-1", price=Decimal("12.00"), weight_grams=350)
    product = variant.product
    path = write_csv(
        tmp_path / "prices.csv",
        [["MUG-1", product.slug, product.title, product.category.name, "9.99"]],
        header=["sku", "product_slug", "title", "category", "price"],
    )

    run("import_catalog", path)

    variant.refresh_from_db()
    product.refresh_from_db()
    assert variant.price == Decimal("9.99")
    assert variant.weight_grams == 350
    assert product.description == "A sturdy everyday thing."
    assert product.min_price == Decimal("9.99")


def test_switching_off_the_last_stocked_variant_takes_the_product_out_of_stock(tmp_path):
    variant = VariantFactory(sku="MUG-1", price=Decimal("12.00"))
    receive_stock(variant=variant, warehouse=WarehouseFactory(), quantity=5)
    product = variant.product
    product.refresh_from_db()
    assert product.in_stock is True
    path = write_csv(
        tmp_path / "off.csv",
        [["MUG-1", product.slug, product.title, product.category.name, "12.00", "false"]],
        header=["sku", "product_slug", "title", "category", "price", "active"],
    )

    run("import_catalog", path)

    product.refresh_from_db()
    assert product.in_stock is False


def a_varied_catalog():
    colour = AttributeFactory(slug="colour", name="Colour", position=0)
    material = AttributeFactory(slug="material", name="Material", position=1)
    red = AttributeValueFactory(attribute=colour, value="Red", slug="red")
    blue = AttributeValueFactory(attribute=colour, value="Blue", slug="blue")
    cotton = AttributeValueFactory(attribute=material, value="Cotton", slug="cotton")
    parent = CategoryFactory(name="Home")
    kitchen = CategoryFactory(name="Kitchen", parent=parent)
    mug = ProductFactory(
        slug="mug",
        title="Mug, “large”",
        description='Holds 400 ml.\nSay "hello".',
        category=kitchen,
        brand=BrandFactory(name="Hearth & Co"),
    )
    mug.attributes.set([cotton, red, blue])
    red_mug = VariantFactory(
        product=mug, sku="MUG-RED", name="Red", price=Decimal("9.99"), compare_at_price=None
    )
    red_mug.options.set([red])
    blue_mug = VariantFactory(
        product=mug,
        sku="MUG-BLUE",
        name="Blue",
        price=Decimal("11.00"),
        compare_at_price=Decimal("14.99"),
        is_active=False,
        position=1,
    )
    blue_mug.options.set([blue])
    VariantFactory(
        product=ProductFactory(slug="plate", category=parent, brand=None, is_active=False),
        sku="PLATE-1",
        price=Decimal("0.00"),
        weight_grams=0,
    )


def test_export_then_import_changes_nothing(tmp_path):
    a_varied_catalog()
    path = str(tmp_path / "catalog.csv")
    run("export_catalog", path)

    out, _err = run("import_catalog", path, "--dry-run")

    assert "no changes; 3 variants unchanged" in out


def test_export_into_an_empty_shop_rebuilds_the_same_catalog(tmp_path):
    a_varied_catalog()
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    run("export_catalog", str(first))
    Product.objects.all().delete()
    for category in Category.objects.filter(parent__isnull=False):
        category.delete()
    Category.objects.all().delete()

    run("import_catalog", str(first))
    run("export_catalog", str(second))

    assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")
    mug = Product.objects.get(slug="mug")
    assert sorted(value.value for value in mug.attributes.all()) == ["Blue", "Cotton", "Red"]
    assert mug.min_price == Decimal("9.99")
    assert Product.objects.get(slug="plate").is_active is False


def test_export_writes_the_columns_import_reads(tmp_path):
    a_varied_catalog()
    path = tmp_path / "catalog.csv"

    out, _err = run("export_catalog", str(path))

    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "Exported 3 variants" in out
    red = next(row for row in rows if row["sku"] == "MUG-RED")
    assert red["category"] == "Home/Kitchen"
    assert red["brand"] == "Hearth & Co"
    assert red["attributes"] == "colour=Red"
    assert red["product_attributes"] == "material=Cotton"
    assert red["compare_at_price"] == ""
    blue = next(row for row in rows if row["sku"] == "MUG-BLUE")
    assert (blue["active"], blue["compare_at_price"]) == ("false", "14.99")
