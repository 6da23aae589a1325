from django.db import migrations, models


def mark_received_lines(apps, schema_editor):
    """Purchase orders received before partial receipts existed arrived in full."""
    PurchaseOrderLine = apps.get_model("shipping", "PurchaseOrderLine")
    PurchaseOrderLine.objects.filter(purchase_order__status="received").update(
        quantity_received=models.F("quantity")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("shipping", "0002_logistics"),
    ]

    operations = [
        migrations.AddField(
            model_name="purchaseorderline",
            name="quantity_received",
            field=models.PositiveIntegerField(default=0, verbose_name="received"),
        ),
        migrations.AlterField(
            model_name="purchaseorder",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("sent", "Sent to supplier"),
                    ("partially_received", "Partly received"),
                    ("received", "Received"),
                ],
                db_index=True,
                default="draft",
                max_length=20,
                verbose_name="status",
            ),
        ),
        migrations.RunPython(mark_received_lines, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="purchaseorderline",
            constraint=models.CheckConstraint(
                condition=models.Q(("quantity_received__lte", models.F("quantity"))),
                name="po_received_within_quantity",
            ),
        ),
        migrations.AddConstraint(
            model_name="purchaseorder",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "draft")),
                fields=("supplier", "warehouse"),
                name="one_draft_per_supplier_and_warehouse",
            ),
        ),
    ]
