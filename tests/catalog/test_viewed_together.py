import re
from datetime import date, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from catalog.models import ProductView, Recommendation
from catalog.recommendations import build_recommendations, co_view_counts
from catalog.services import record_product_view, session_hash
from tests.accounts.factories import UserFactory

from .factories import ProductFactory, VariantFactory

pytestmark = pytest.mark.django_db


def stocked_product(**kwargs):
    product = ProductFactory(**kwargs)
    VariantFactory(product=product, stock_available=5)
    product.refresh_from_db()
    return product


def viewed(session, *products):
    for product in products:
        record_product_view(session_hash=session, product_id=product.pk)


def viewed_together(product):
    return list(
        Recommendation.objects.filter(product=product, kind=Recommendation.Kind.VIEWED_TOGETHER)
        .order_by("rank")
        .values_list("recommended_id", "score")
    )


def test_co_view_counts_on_hand_made_sessions_equal_the_hand_counted_pairs():
    # a and b seen together in 3 sessions, a and c in 2, b and c in 1, d always alone.
    sessions = [frozenset(ids) for ids in ("ab", "ab", "abc", "ac", "d", "d")]

    counts = co_view_counts(sessions, min_support=2)

    assert counts == {("a", "b"): 3, ("b", "a"): 3, ("a", "c"): 2, ("c", "a"): 2}


def test_a_session_browsing_more_than_a_shopper_would_is_ignored():
    crawler = frozenset(range(60))

    assert co_view_counts([crawler, crawler], min_support=2, max_views=50) == {}


def test_build_stores_viewed_together_pairs_ranked_by_sessions_in_common():
    mug, saucer, spoon, lamp = (stocked_product() for _ in range(4))
    viewed("s1", mug, saucer, spoon)
    viewed("s2", mug, saucer)
    viewed("s3", mug, saucer)
    viewed("s4", mug, spoon)
    viewed("s5", spoon, saucer)
    viewed("s6", lamp)
    viewed("s7", lamp)

    build_recommendations()

    # mug·saucer in s1, s2, s3; mug·spoon in s1, s4; saucer·spoon in s1, s5.
    assert viewed_together(mug) == [(saucer.pk, 3.0), (spoon.pk, 2.0)]
    assert viewed_together(saucer) == [(mug.pk, 3.0), (spoon.pk, 2.0)]
    assert viewed_together(spoon) == [(mug.pk, 2.0), (saucer.pk, 2.0)]
    assert viewed_together(lamp) == []  # only ever viewed alone


def test_out_of_stock_and_inactive_products_are_never_viewed_together():
    mug = stocked_product()
    saucer = stocked_product()
    sold_out = ProductFactory()
    VariantFactory(product=sold_out, stock_available=0)
    retired = stocked_product(is_active=False)
    for session in ("s1", "s2"):
        viewed(session, mug, saucer, sold_out, retired)

    build_recommendations()

    assert viewed_together(mug) == [(saucer.pk, 2.0)]
    recommended = set(
        Recommendation.objects.filter(kind=Recommendation.Kind.VIEWED_TOGETHER).values_list(
            "recommended_id", flat=True
        )
    )
    assert recommended == {mug.pk, saucer.pk}


def test_views_older_than_the_window_count_for_nothing_and_are_deleted():
    mug, saucer = stocked_product(), stocked_product()
    long_ago = timezone.localdate() - timedelta(days=365)
    for session in ("s1", "s2"):
        for product in (mug, saucer):
            record_product_view(session_hash=session, product_id=product.pk, day=long_ago)

    build_recommendations()

    assert viewed_together(mug) == []
    assert not ProductView.objects.exists()


def test_the_product_page_shows_what_other_sessions_viewed(client):
    mug, saucer = stocked_product(title="Blue mug"), stocked_product(title="Copper saucer")
    viewed("s1", mug, saucer)
    viewed("s2", mug, saucer)
    build_recommendations()

    html = client.get(mug.get_absolute_url()).content.decode()

    section = re.search(r'id="viewed-together-heading".*?</section>', html, re.S).group(0)
    assert "Copper saucer" in section


def open_session(client):
    session = client.session
    session["browsing"] = True
    session.save()
    return session.session_key


def test_viewing_a_page_records_one_view_per_session_per_day(
    client, django_capture_on_commit_callbacks
):
    mug = stocked_product()
    session_key = open_session(client)

    with (
        time_machine.travel(date(2026, 3, 2), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.get(mug.get_absolute_url())
        client.get(mug.get_absolute_url())
    with (
        time_machine.travel(date(2026, 3, 3), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.get(mug.get_absolute_url())

    views = ProductView.objects.filter(product=mug).order_by("day")
    assert [view.day for view in views] == [date(2026, 3, 2), date(2026, 3, 3)]
    assert {view.session_hash for view in views} == {session_hash(session_key)}
    assert session_key not in {view.session_hash for view in views}


def test_each_signed_in_session_records_its_own_view(client, django_capture_on_commit_callbacks):
    mug = stocked_product()
    client.force_login(UserFactory())
    other = Client()
    other.force_login(UserFactory())

    with django_capture_on_commit_callbacks(execute=True):
        client.get(mug.get_absolute_url())
        other.get(mug.get_absolute_url())

    assert ProductView.objects.filter(product=mug).count() == 2


def test_a_visitor_without_a_session_records_nothing(client, django_capture_on_commit_callbacks):
    mug = stocked_product()

    with django_capture_on_commit_callbacks(execute=True):
        client.get(mug.get_absolute_url())

    assert not ProductView.objects.exists()
