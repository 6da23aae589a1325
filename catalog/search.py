"""Product search: full-text with prefixes and trigram typo matching on PostgreSQL.

On PostgreSQL a product matches when its title or description holds every word typed, each as a
prefix (so results appear while the shopper types) or, for a word of four letters or more,
close to a word of the title ("iphnoe" finds "iPhone"); or when one of its variants has exactly
that SKU. Title words weigh more than description words in the rank. On SQLite every word must
appear in the title or the description.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.db.models import Case, F, Q, Value, When

from .models import Variant

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
# Letters and digits only: nothing typed can reach the tsquery syntax (& | ! : ( ) ').
TERM = re.compile(r"[^\W_]+")
# word_similarity("iphnoe", "iPhone 15") is 0.43; unrelated words score well below 0.3.
TYPO_SIMILARITY = 0.4
# Below this length a few shared letters make anything look similar.
MIN_TYPO_LENGTH = 4
SKU_BOOST = 10


@dataclass(frozen=True)
class Search:
    condition: Q
    rank: object


def terms(text):
    return TERM.findall(text.casefold())[:MAX_TERMS]


def product_search(text):
    """The filter that finds products for what a shopper typed, and how to rank them.

    Runs one query (the SKU lookup), so that the filter itself can use indexes only: a
    subquery in it would make PostgreSQL scan every product.
    """
    text = text.strip()[:MAX_QUERY_LENGTH]
    sku_matches = list(
        Variant.objects.filter(sku__iexact=text).values_list("product_id", flat=True)[:MAX_TERMS]
    )
    by_sku = Q(pk__in=sku_matches)
    sku_rank = (
        Case(When(by_sku, then=Value(float(SKU_BOOST))), default=Value(0.0))
        if sku_matches
        else Value(0.0)
    )
    words = terms(text)
    if not words:
        return Search(condition=by_sku, rank=sku_rank)
    if settings.IS_POSTGRES:
        return _postgres_search(text, words, by_sku, sku_rank)
    return _contains_search(words, by_sku, sku_rank)


def _postgres_search(text, words, by_sku, sku_rank):
    every_word = _tsquery(words)
    # Each word as a prefix or, when long enough, as something close to a title word
    # (`%>` uses the trigram index, with the threshold catalog.signals sets per connection).
    # The whole query is tried on its own too: PostgreSQL drops stop words ("the") from it.
    each_word_or_typo = Q()
    for word in words:
        word_matches = Q(search_vector=_tsquery([word]))
        if len(word) >= MIN_TYPO_LENGTH:
            word_matches |= Q(title__trigram_word_similar=word)
        each_word_or_typo &= word_matches
    return Search(
        condition=by_sku | Q(search_vector=every_word) | each_word_or_typo,
        rank=sku_rank
        + SearchRank(F("search_vector"), every_word)
        + TrigramWordSimilarity(text, "title"),
    )


def _tsquery(words):
    return SearchQuery(
        " & ".join(f"{word}:*" for word in words), search_type="raw", config="english"
    )


def _contains_search(words, by_sku, sku_rank):
    every_word = Q()
    title_words = Value(0.0)
    for word in words:
        every_word &= Q(title__icontains=word) | Q(description__icontains=word)
        title_words = title_words + Case(
            When(title__icontains=word, then=Value(1.0)), default=Value(0.0)
        )
    return Search(condition=every_word | by_sku, rank=sku_rank + title_words)
