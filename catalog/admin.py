"""What staff see of the catalog: products with their variants and images, the category tree,
brands, attributes, reviews, and pricing: promotions, price rules with a preview, price history.

Saving through these pages fires the catalog's signals, which refresh the product's figures and
make cached pages stale; bulk actions go through catalog.services, which do the same. Prices,
sales and category promotions are saved through catalog.services too, which write the price
history; the history itself is read-only here, for everyone.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.roles import VARIANT_COST

from . import pricing, selectors, services
from .forms import LISTING_PARAMETERS
from .models import (
    Attribute,
    AttributeValue,
    Brand,
    Category,
    CategoryPromotion,
    PriceHistory,
    PriceRule,
    Product,
    ProductImage,
    Review,
    Variant,
)

INDENT = "\u2003"  # an em space per level of the tree


def tree_label(tree, category):
    return f"{INDENT * tree.level(category)}{category.name}"


# Categories


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["name", "slug", "parent", "description", "image", "position", "is_active"]

    def clean_parent(self):
        parent = self.cleaned_data["parent"]
        if parent is not None and self.instance.pk is not None:
            tree = selectors.load_category_tree()
            above = {parent.pk} | {category.pk for category in tree.ancestors(parent)}
            if self.instance.pk in above:
                raise forms.ValidationError(
                    _("A category can't sit inside itself or one of its subcategories.")
                )
        return parent


class CategoryTreeChangeList(ChangeList):
    """The changelist in tree order (each category followed by its subcategories), indented.

    Only when staff haven't sorted by a column or searched: then a flat list reads better.
    """

    def get_results(self, request):
        super().get_results(request)
        tree = selectors.load_category_tree()
        for category in self.result_list:
            category.tree_level = tree.level(tree.by_id.get(category.pk, category))
        if ORDER_VAR not in self.params and not self.query:
            order = {category.pk: index for index, category in enumerate(tree.in_tree_order())}
            self.result_list = sorted(
                self.result_list, key=lambda category: order.get(category.pk, len(order))
            )


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ["indented_name", "slug", "position", "is_active", "product_count"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    # Explicit: the product count's GROUP BY drops the model's default ordering.
    ordering = ["position", "name"]
    list_per_page = 500

    def get_changelist(self, request, **kwargs):
        return CategoryTreeChangeList

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description=_("name"), ordering="name")
    def indented_name(self, category):
        level = getattr(category, "tree_level", 0)
        return format_html("{}{}", INDENT * level + ("└ " if level else ""), category.name)

    @admin.display(description=_("products"), ordering="product_count")
    def product_count(self, category):
        return category.product_count


# Brands and attributes


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "product_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description=_("products"), ordering="product_count")
    def product_count(self, brand):
        return brand.product_count


class AttributeForm(forms.ModelForm):
    class Meta:
        model = Attribute
        fields = ["name", "slug", "position"]

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if slug in LISTING_PARAMETERS:
            raise forms.ValidationError(
                _("“%(slug)s” is taken by the product listing's own filters; choose another.")
                % {"slug": slug}
            )
        return slug


class AttributeValueInline(admin.TabularInline):
    model = AttributeValue
    fields = ["value", "slug", "position"]
    prepopulated_fields = {"slug": ["value"]}
    extra = 1


@admin.register(Attribute)
class AttributeAdmin(admin.ModelAdmin):
    form = AttributeForm
    list_display = ["name", "slug", "position"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [AttributeValueInline]


@admin.register(AttributeValue)
class AttributeValueAdmin(admin.ModelAdmin):
    """Listed for the product and variant forms' autocompletes; edited under their attribute."""

    list_display = ["value", "attribute", "slug", "position"]
    list_filter = ["attribute"]
    list_select_related = ["attribute"]
    search_fields = ["value", "attribute__name"]

    def has_module_permission(self, request):
        return False


# Products

SALE_FIELDS = ("sale_price", "sale_starts_at", "sale_ends_at")


def hold_back_prices(form):
    """Take the price and sale staff typed out of a variant's form, leaving it as it was.

    The variant's other fields are then saved as usual, and `save_held_prices` makes the price
    and sale changes through catalog.services, which write them to the price history. Returns
    (variant, NewPrice or None, sale fields or None).
    """
    variant, initial = form.instance, form.initial
    new_price = sale = None
    if "price" in form.changed_data:
        new_price = services.NewPrice(
            variant_id=variant.pk, price=variant.price, compare_at_price=variant.compare_at_price
        )
        variant.price, variant.compare_at_price = initial["price"], initial["compare_at_price"]
    if set(SALE_FIELDS) & set(form.changed_data):
        sale = {name: getattr(variant, name) for name in SALE_FIELDS}
        for name in SALE_FIELDS:
            setattr(variant, name, initial[name])
    return variant, new_price, sale


def save_held_prices(request, held):
    services.change_prices(
        changes=[new_price for _variant, new_price, _sale in held if new_price],
        kind=PriceHistory.Kind.MANUAL,
        user=request.user,
        reason=_("Changed in admin"),
    )
    for variant, _new_price, sale in held:
        if sale:
            services.set_sale(
                variant=variant,
                sale_price=sale["sale_price"],
                starts_at=sale["sale_starts_at"],
                ends_at=sale["sale_ends_at"],
                user=request.user,
            )


def without_cost(request, fields):
    """`fields` less the variant's cost for staff who may not see it: they look products up,
    they don't price them."""
    if request.user.has_perm(VARIANT_COST):
        return fields
    return [field for field in fields if field != "cost"]


class VariantInline(admin.TabularInline):
    model = Variant
    fields = [
        "sku",
        "name",
        "options",
        "price",
        "compare_at_price",
        "cost",
        "price_locked",
        "sale_price",
        "sale_starts_at",
        "sale_ends_at",
        "weight_grams",
        "position",
        "is_active",
        "stock_available",
    ]
    readonly_fields = ["stock_available"]
    autocomplete_fields = ["options"]
    extra = 0

    def get_fields(self, request, obj=None):
        return without_cost(request, super().get_fields(request, obj))


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    fields = ["preview", "image", "alt", "position"]
    readonly_fields = ["preview"]
    extra = 1

    @admin.display(description=_("preview"))
    def preview(self, image):
        if not image.thumbnail:
            return "—"
        return format_html('<img src="{}" alt="" width="80">', image.thumbnail.url)


class MoveToCategoryForm(forms.Form):
    category = forms.ModelChoiceField(queryset=Category.objects.all(), label=_("Move to"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tree = selectors.load_category_tree()
        self.fields["category"].choices = [("", "---------")] + [
            (category.pk, tree_label(tree, category)) for category in tree.in_tree_order()
        ]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "category",
        "brand",
        "min_price",
        "in_stock",
        "is_active",
        "rating_average",
        "updated_at",
    ]
    list_filter = ["is_active", "in_stock", "brand", "category"]
    list_select_related = ["category", "brand"]
    search_fields = ["title", "slug", "=variants__sku"]
    search_help_text = _("Search by title, slug or exact SKU.")
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["category", "brand", "attributes"]
    readonly_fields = [
        "min_price",
        "in_stock",
        "rating_average",
        "rating_count",
        "units_sold",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "category", "brand", "is_active"]}),
        (_("Filters"), {"fields": ["attributes"]}),
        (
            _("Figures"),
            {
                "fields": readonly_fields,
                "description": _("Worked out from the variants, stock, reviews and orders."),
            },
        ),
    ]
    inlines = [VariantInline, ProductImageInline]
    actions = ["activate", "deactivate", "move_to_category"]
    date_hierarchy = "created_at"

    def save_formset(self, request, form, formset, change):
        if formset.model is Variant:
            held = [
                hold_back_prices(variant_form)
                for variant_form in formset.initial_forms
                if variant_form.has_changed() and variant_form not in formset.deleted_forms
            ]
            super().save_formset(request, form, formset, change)
            save_held_prices(request, held)
            return
        super().save_formset(request, form, formset, change)
        if formset.model is ProductImage:
            uploaded = [
                *formset.new_objects,
                *(image for image, fields in formset.changed_objects if "image" in fields),
            ]
            for image in uploaded:
                services.make_image_sizes(image=image)

    @admin.action(description=_("Show the selected products in the shop"), permissions=["change"])
    def activate(self, request, queryset):
        changed = services.set_products_active(
            product_ids=queryset.values_list("pk", flat=True), active=True
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d product is now shown in the shop.",
                "%(count)d products are now shown in the shop.",
                changed,
            )
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Hide the selected products from the shop"), permissions=["change"])
    def deactivate(self, request, queryset):
        changed = services.set_products_active(
            product_ids=queryset.values_list("pk", flat=True), active=False
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d product is now hidden from the shop.",
                "%(count)d products are now hidden from the shop.",
                changed,
            )
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Move the selected products to another category"), permissions=["change"]
    )
    def move_to_category(self, request, queryset):
        """First a page to choose the category, then the move."""
        form = MoveToCategoryForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            category = form.cleaned_data["category"]
            moved = services.move_products_to_category(
                product_ids=queryset.values_list("pk", flat=True), category=category
            )
            self.message_user(
                request,
                ngettext(
                    "%(count)d product moved to %(category)s.",
                    "%(count)d products moved to %(category)s.",
                    moved,
                )
                % {"count": moved, "category": category},
                messages.SUCCESS,
            )
            return None
        select_across = request.POST.get("select_across", "0")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Move products to another category"),
            "opts": self.model._meta,
            "form": form,
            "count": queryset.count(),
            "examples": queryset.order_by("title")[:10],
            # Across every page, the changelist's filters (kept in the URL) say which products.
            "selected": []
            if select_across == "1"
            else request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": select_across,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "catalog/admin/move_to_category.html", context)


class ReadOnlyHistory:
    """Price history is only ever added to, by catalog.services: nobody adds, edits or deletes."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PriceHistoryInline(ReadOnlyHistory, admin.TabularInline):
    model = PriceHistory
    fk_name = "variant"
    fields = ["changed_at", "kind", "old_price", "new_price", "reason", "changed_by", "rule"]
    readonly_fields = fields
    extra = 0
    ordering = ["-changed_at", "-pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by", "rule")


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    """Variants are edited with their product; this list finds one by SKU across products."""

    list_display = [
        "sku",
        "product",
        "name",
        "price",
        "cost",
        "price_locked",
        "stock_available",
        "is_active",
    ]
    list_filter = ["is_active", "price_locked"]
    list_select_related = ["product"]
    search_fields = ["sku", "product__title"]
    readonly_fields = ["stock_available"]
    autocomplete_fields = ["product", "options"]
    inlines = [PriceHistoryInline]

    def get_list_display(self, request):
        return without_cost(request, self.list_display)

    def get_exclude(self, request, obj=None):
        return None if request.user.has_perm(VARIANT_COST) else ["cost"]

    def save_model(self, request, obj, form, change):
        held = [hold_back_prices(form)] if change else []
        super().save_model(request, obj, form, change)
        save_held_prices(request, held)


# Pricing


@admin.register(CategoryPromotion)
class CategoryPromotionAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "percent_off", "starts_at", "ends_at", "is_active"]
    list_filter = ["is_active"]
    list_select_related = ["category"]
    search_fields = ["name", "category__name"]
    autocomplete_fields = ["category"]

    def save_model(self, request, obj, form, change):
        services.save_category_promotion(promotion=obj, user=request.user)

    def delete_model(self, request, obj):
        services.delete_category_promotion(promotion=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for promotion in queryset:
            services.delete_category_promotion(promotion=promotion, user=request.user)


@admin.register(PriceRule)
class PriceRuleAdmin(admin.ModelAdmin):
    """Rules with a preview of what they would change now, so staff see a rule before it runs."""

    list_display = ["name", "strategy", "product", "category", "is_active"]
    list_filter = ["strategy", "is_active"]
    list_select_related = ["product", "category"]
    search_fields = ["name"]
    autocomplete_fields = ["product", "category"]
    readonly_fields = ["preview"]

    @admin.display(description=_("Effect if applied now"))
    def preview(self, rule):
        if rule.pk is None:
            return _("Save the rule to see its effect.")
        moves = pricing.preview_rule(rule)
        if not moves:
            return _("No price would change.")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((m.variant.sku, m.old_price, m.new_price, m.reason) for m in moves),
        )
        return format_html(
            '<table class="price-rule-preview"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("SKU"),
            _("Now"),
            _("Would be"),
            _("Why"),
            rows,
        )


@admin.register(PriceHistory)
class PriceHistoryAdmin(ReadOnlyHistory, admin.ModelAdmin):
    list_display = [
        "changed_at",
        "kind",
        "variant",
        "category",
        "old_price",
        "new_price",
        "reason",
        "changed_by",
        "rule",
    ]
    list_filter = ["kind", "changed_at", "rule"]
    list_select_related = ["variant__product", "category", "rule", "changed_by"]
    search_fields = ["variant__sku", "category__name", "reason", "changed_by__email"]
    date_hierarchy = "changed_at"


# Reviews


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["product", "user", "rating", "title", "created_at"]
    list_filter = ["rating", "created_at"]
    list_select_related = ["product", "user"]
    search_fields = ["product__title", "user__email", "title", "body"]
    raw_id_fields = ["product", "user"]
    readonly_fields = ["created_at"]
