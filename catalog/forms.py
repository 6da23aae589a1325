"""Forms of the storefront: the listing's filters and sort, and the review form.

The listing form never rejects a page: a bad value is dropped (and, for prices, explained
next to the field), so any URL a shopper or a crawler makes up still shows products.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from .search import MAX_QUERY_LENGTH
from .selectors import DEFAULT_PER_PAGE, DEFAULT_SORT, PER_PAGE_CHOICES, ListingQuery

MAX_PRICE = 99_999_999
SORT_CHOICES = [
    ("relevance", _("Relevance")),
    ("price", _("Price: low to high")),
    ("-price", _("Price: high to low")),
    ("newest", _("Newest")),
    ("rating", _("Best rated")),
]
# Parameters of the listing itself; attribute filters use the attribute's slug as the name.
LISTING_PARAMETERS = frozenset(
    {"q", "sort", "page", "per_page", "price_min", "price_max", "in_stock", "brand"}
)


class SearchField(forms.CharField):
    """What was typed in the search box, cut to a sane length; never an error."""

    def to_python(self, value):
        return super().to_python(value).replace("\x00", "")[:MAX_QUERY_LENGTH].strip()


class ListingForm(forms.Form):
    q = SearchField(required=False)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    per_page = forms.TypedChoiceField(
        choices=[(str(size), size) for size in PER_PAGE_CHOICES], coerce=int, required=False
    )
    page = forms.IntegerField(min_value=1, required=False)
    price_min = forms.DecimalField(
        label=_("From"),
        min_value=0,
        max_value=MAX_PRICE,
        decimal_places=2,
        required=False,
        error_messages={
            "invalid": _("Enter the lowest price as a number."),
            "min_value": _("The lowest price can't be below 0."),
        },
    )
    price_max = forms.DecimalField(
        label=_("To"),
        min_value=0,
        max_value=MAX_PRICE,
        decimal_places=2,
        required=False,
        error_messages={
            "invalid": _("Enter the highest price as a number."),
            "min_value": _("The highest price can't be below 0."),
        },
    )
    in_stock = forms.BooleanField(label=_("In stock only"), required=False)

    def __init__(self, data, *, facts):
        super().__init__(data)
        self.facts = facts

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("price_min"), cleaned.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", _("The highest price must be at least the lowest."))
        return cleaned

    def listing_query(self, *, category=None):
        """The query this form asks for, with every bad or unknown value left out."""
        self.is_valid()
        values = self.cleaned_data
        brand_ids = {
            self.facts.brand_by_slug[slug].pk
            for slug in self.data.getlist("brand")
            if slug in self.facts.brand_by_slug
        }
        value_ids = []
        for attribute in self.facts.attributes:
            if attribute.slug in LISTING_PARAMETERS:
                continue
            wanted = set(self.data.getlist(attribute.slug))
            chosen = tuple(sorted(value.pk for value in attribute.choices if value.slug in wanted))
            if chosen:
                value_ids.append((attribute.pk, chosen))
        return ListingQuery(
            category_id=category.pk if category is not None else None,
            q=values.get("q", ""),
            brand_ids=tuple(sorted(brand_ids)),
            value_ids=tuple(value_ids),
            price_min=values.get("price_min"),
            price_max=values.get("price_max"),
            in_stock=values.get("in_stock", False),
            sort=values.get("sort") or DEFAULT_SORT,
            page=values.get("page") or 1,
            per_page=values.get("per_page") or DEFAULT_PER_PAGE,
        )


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Rating"),
        choices=[(str(stars), f"{stars} ★") for stars in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose between 1 and 5 stars.")},
    )
    title = forms.CharField(label=_("Title"), max_length=120, required=False)
    body = forms.CharField(
        label=_("Your review"), max_length=5000, required=False, widget=forms.Textarea
    )
