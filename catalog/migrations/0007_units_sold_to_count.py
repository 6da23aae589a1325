import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_price_history_for_every_change"),
    ]

    operations = [
        migrations.CreateModel(
            name="UnitsSold",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("units", models.IntegerField()),
                (
                    "product",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.product",
                    ),
                ),
            ],
            options={
                "verbose_name": "units sold, to count",
                "verbose_name_plural": "units sold, to count",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("units", 0), _negated=True),
                        name="units_sold_not_zero",
                    )
                ],
            },
        ),
    ]
