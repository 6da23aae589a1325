import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from catalog.models import ProductImage
from catalog.services import CARD_SIZE, THUMBNAIL_SIZE, InvalidImage, add_product_image
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db


def png(width, height, mode="RGB"):
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "orange").save(buffer, "PNG")
    return ContentFile(buffer.getvalue(), name="photo.png")


def size_of(field):
    with field.open("rb") as file:
        return Image.open(file).size


def test_an_uploaded_image_gets_its_thumbnail_and_card_once(client):
    product = ProductFactory()

    image = add_product_image(product=product, image_file=png(1600, 1200), alt="Front", position=2)

    image.refresh_from_db()
    assert (image.alt, image.position, image.product) == ("Front", 2, product)
    assert size_of(image.image) == (1600, 1200)
    assert size_of(image.thumbnail) == (THUMBNAIL_SIZE, THUMBNAIL_SIZE * 3 // 4)
    assert size_of(image.card) == (CARD_SIZE, CARD_SIZE * 3 // 4)
    assert image.card.url in client.get(product.get_absolute_url()).content.decode()


def test_a_small_transparent_image_is_kept_small_on_white():
    image = add_product_image(product=ProductFactory(), image_file=png(100, 50, mode="RGBA"))

    assert size_of(image.card) == (100, 50)


def test_a_file_that_is_not_an_image_is_refused():
    with pytest.raises(InvalidImage):
        add_product_image(
            product=ProductFactory(), image_file=ContentFile(b"not a picture", name="x.png")
        )

    assert not ProductImage.objects.exists()
