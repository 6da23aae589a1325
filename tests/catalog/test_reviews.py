from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Review
from catalog.services import ReviewNotAllowed, submit_review
from tests.accounts.factories import UserFactory
from tests.catalog.factories import ProductFactory, ReviewFactory, VariantFactory
from tests.orders.factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


def buy(user, product, status="paid"):
    """An order of the shopper's holding one of the product's variants, in `status`."""
    variant = VariantFactory(product=product)
    OrderLineFactory(
        order=OrderFactory(user=user, email=user.email, status=status), variant=variant
    )


@pytest.fixture
def kettle():
    return ProductFactory(title="Kettle", slug="kettle")


def review_url(product):
    return reverse("catalog:review_create", args=[product.slug])


def test_a_buyer_reviews_and_the_average_is_shown(client, kettle):
    first, second = UserFactory(first_name="Mei", last_name="Chen"), UserFactory()
    buy(first, kettle)
    buy(second, kettle, status="delivered")
    ReviewFactory(product=kettle, user=second, rating=3)
    client.force_login(first)

    response = client.post(
        review_url(kettle), {"rating": "5", "title": "Boils fast", "body": "Quiet, too."}
    )

    assert response.status_code == 302
    kettle.refresh_from_db()
    assert (kettle.rating_average, kettle.rating_count) == (Decimal("4.00"), 2)
    html = client.get(kettle.get_absolute_url()).content.decode()
    assert "4.00 out of 5, from 2 reviews" in html
    assert "Boils fast" in html and "Mei C." in html
    assert "You have reviewed this product" in html


@pytest.mark.parametrize("status", [None, "pending_payment", "cancelled"])
def test_only_shoppers_who_bought_the_product_may_review_it(client, kettle, status):
    shopper = UserFactory()
    if status:
        buy(shopper, kettle, status=status)
    client.force_login(shopper)

    page = client.get(kettle.get_absolute_url()).content.decode()
    response = client.post(review_url(kettle), {"rating": "1", "body": "Never had one."})

    assert "Only shoppers who bought this product can review it." in page
    assert 'class="review-form' not in page
    assert response.status_code == 403
    assert "Only shoppers who bought this product can review it." in response.content.decode()
    assert not Review.objects.exists()


def test_someone_elses_purchase_does_not_count(kettle):
    buyer, other = UserFactory(), UserFactory()
    buy(buyer, kettle)

    with pytest.raises(ReviewNotAllowed):
        submit_review(product=kettle, user=other, rating=4)


def test_one_review_per_shopper(client, kettle):
    shopper = UserFactory()
    buy(shopper, kettle)
    submit_review(product=kettle, user=shopper, rating=4)
    client.force_login(shopper)

    response = client.post(review_url(kettle), {"rating": "1"})

    assert response.status_code == 403
    assert "You have already reviewed this product." in response.content.decode()
    assert Review.objects.get().rating == 4


def test_a_review_without_stars_is_sent_back_with_the_reason(client, kettle):
    shopper = UserFactory()
    buy(shopper, kettle)
    client.force_login(shopper)

    response = client.post(review_url(kettle), {"rating": "9", "title": "Hmm"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Review.objects.exists()


def test_guests_are_asked_to_sign_in(client, kettle):
    page = client.get(kettle.get_absolute_url()).content.decode()
    response = client.post(review_url(kettle), {"rating": "5"})

    assert "Sign in to review a product you bought." in page
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not Review.objects.exists()


def test_deleting_a_review_updates_the_average(kettle):
    ReviewFactory(product=kettle, rating=5)
    ReviewFactory(product=kettle, rating=1).delete()

    kettle.refresh_from_db()
    assert (kettle.rating_average, kettle.rating_count) == (Decimal("5.00"), 1)
