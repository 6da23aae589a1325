"""Attachments move to private storage, named by the detected type instead of the shopper's suffix.

Files uploaded before sat in MEDIA_ROOT under the suffix the shopper chose (`.html` too); each
is copied into PRIVATE_MEDIA_ROOT under a fresh name with the suffix of its content type, and
the old copy is deleted once the migration has committed. Rows whose old file is gone are left
as they are: their download answers 404.
"""

from functools import partial

from django.core.files.storage import default_storage
from django.db import migrations, models, transaction

import support.models


def move_to_private_storage(apps, schema_editor):
    Attachment = apps.get_model("support", "Attachment")
    private = Attachment._meta.get_field("file").storage
    for attachment in Attachment.objects.exclude(file="").iterator():
        old_name = attachment.file.name
        if not default_storage.exists(old_name):
            continue
        with default_storage.open(old_name, "rb") as old_file:
            new_name = private.save(support.models.attachment_path(attachment, old_name), old_file)
        attachment.file.name = new_name
        attachment.save(update_fields=["file"])
        transaction.on_commit(partial(default_storage.delete, old_name))


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0002_return_pay_back_to"),
    ]

    operations = [
        migrations.AlterField(
            model_name="attachment",
            name="file",
            field=models.FileField(
                storage=support.models.private_storage,
                upload_to=support.models.attachment_path,
                verbose_name="file",
            ),
        ),
        migrations.AddConstraint(
            model_name="attachment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "content_type__in",
                        ["image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"],
                    )
                ),
                name="attachment_type_known",
            ),
        ),
        migrations.RunPython(move_to_private_storage, migrations.RunPython.noop),
    ]
