"""PostgreSQL search: pg_trgm, the trigger that writes Product.search_vector, and GIN indexes.

Does nothing on SQLite, where search is a plain contains match. The trigger (rather than
code in save()) keeps the vector right for bulk_create and queryset updates as well. The
best-rated sort's index is here too: SQLite can't index NULLS LAST.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

FORWARD = """
CREATE FUNCTION catalog_product_search_vector() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.description, '')), 'B');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_product_search_vector
    BEFORE INSERT OR UPDATE OF title, description ON catalog_product
    FOR EACH ROW EXECUTE FUNCTION catalog_product_search_vector();

UPDATE catalog_product SET title = title;

CREATE INDEX catalog_product_search_vector_gin ON catalog_product USING gin (search_vector);
CREATE INDEX catalog_product_title_trgm ON catalog_product USING gin (title gin_trgm_ops);
CREATE INDEX catalog_product_best_rated ON catalog_product
    (is_active, rating_average DESC NULLS LAST, rating_count DESC, id DESC);
"""

BACKWARD = """
DROP INDEX IF EXISTS catalog_product_best_rated;
DROP INDEX IF EXISTS catalog_product_title_trgm;
DROP INDEX IF EXISTS catalog_product_search_vector_gin;
DROP TRIGGER IF EXISTS catalog_product_search_vector ON catalog_product;
DROP FUNCTION IF EXISTS catalog_product_search_vector();
"""


def run_on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_search_and_listing_indexes")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(run_on_postgres(FORWARD), run_on_postgres(BACKWARD)),
    ]
