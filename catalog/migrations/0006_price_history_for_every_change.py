"""Price history for every price change: who and why, and rows nobody can change or delete.

Rows written before this were all written by repricing. The add, change and delete
permissions on price history are removed, so `setup_roles` can no longer hand them out.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FORBIDDEN = ["add_pricehistory", "change_pricehistory", "delete_pricehistory"]


def remove_write_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label="catalog",
        content_type__model="pricehistory",
        codename__in=FORBIDDEN,
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("catalog", "0005_product_views"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="pricehistory",
            options={
                "default_permissions": ("view",),
                "ordering": ["-changed_at", "-pk"],
                "verbose_name": "price change",
                "verbose_name_plural": "price history",
            },
        ),
        migrations.AddField(
            model_name="pricehistory",
            name="kind",
            field=models.CharField(
                choices=[
                    ("manual", "Changed by hand"),
                    ("import", "Catalog import"),
                    ("repricing", "Dynamic pricing"),
                    ("sale", "Sale"),
                    ("promotion", "Category promotion"),
                ],
                default="repricing",
                max_length=20,
                verbose_name="kind",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="pricehistory",
            name="category",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="price_history",
                to="catalog.category",
                verbose_name="category",
            ),
        ),
        migrations.AddField(
            model_name="pricehistory",
            name="changed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="changed by",
            ),
        ),
        migrations.AlterField(
            model_name="pricehistory",
            name="variant",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="price_history",
                to="catalog.variant",
                verbose_name="variant",
            ),
        ),
        migrations.AlterField(
            model_name="pricehistory",
            name="old_price",
            field=models.DecimalField(
                blank=True, decimal_places=2, max_digits=10, null=True, verbose_name="old price"
            ),
        ),
        migrations.AlterField(
            model_name="pricehistory",
            name="new_price",
            field=models.DecimalField(
                blank=True, decimal_places=2, max_digits=10, null=True, verbose_name="new price"
            ),
        ),
        migrations.AddConstraint(
            model_name="pricehistory",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("category__isnull", True),
                        ("kind__in", ["manual", "import", "repricing"]),
                        ("new_price__isnull", False),
                        ("old_price__isnull", False),
                        ("variant__isnull", False),
                    ),
                    models.Q(
                        ("category__isnull", True), ("kind", "sale"), ("variant__isnull", False)
                    ),
                    models.Q(
                        ("category__isnull", False),
                        ("kind", "promotion"),
                        ("new_price__isnull", True),
                        ("old_price__isnull", True),
                        ("variant__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="price_history_kind_names_its_subject",
            ),
        ),
        migrations.AddConstraint(
            model_name="pricehistory",
            constraint=models.CheckConstraint(
                condition=models.Q(("rule__isnull", True), ("kind", "repricing"), _connector="OR"),
                name="price_history_rule_only_for_repricing",
            ),
        ),
        migrations.RunPython(remove_write_permissions, migrations.RunPython.noop),
    ]
