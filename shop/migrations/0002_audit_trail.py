"""The audit trail, and on PostgreSQL a trigger that refuses to change or delete its rows.

The model refuses too, but the trigger also holds against raw SQL and bulk paths that skip
the model. TRUNCATE (test database flushes) is not a row change and stays possible.
"""

import django.core.serializers.json
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FORWARD = """
CREATE FUNCTION shop_auditentry_is_final() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The audit trail can''t be changed or deleted.';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER shop_auditentry_is_final
    BEFORE UPDATE OR DELETE ON shop_auditentry
    FOR EACH ROW EXECUTE FUNCTION shop_auditentry_is_final();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS shop_auditentry_is_final ON shop_auditentry;
DROP FUNCTION IF EXISTS shop_auditentry_is_final();
"""


def run_on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('shop', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='when')),
                ('action', models.CharField(db_index=True, max_length=60, verbose_name='action')),
                ('target_type', models.CharField(max_length=100, verbose_name='object type')),
                ('target_id', models.CharField(max_length=64, verbose_name='object id')),
                ('target_label', models.CharField(max_length=255, verbose_name='object')),
                ('before', models.JSONField(blank=True, encoder=django.core.serializers.json.DjangoJSONEncoder, null=True, verbose_name='before')),
                ('after', models.JSONField(blank=True, encoder=django.core.serializers.json.DjangoJSONEncoder, null=True, verbose_name='after')),
                ('note', models.CharField(blank=True, max_length=255, verbose_name='note')),
                ('actor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='who')),
            ],
            options={
                'verbose_name': 'audit entry',
                'verbose_name_plural': 'audit trail',
                'ordering': ['-created_at', '-pk'],
                'default_permissions': (),
                'indexes': [models.Index(fields=['target_type', 'target_id'], name='audit_entry_target')],
            },
        ),
        migrations.RunPython(run_on_postgres(FORWARD), run_on_postgres(BACKWARD)),
    ]
