"""Write the catalog to a CSV file that import_catalog reads back unchanged."""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.bulk import CatalogExportError, export_catalog


class Command(BaseCommand):
    help = "Write every variant as one CSV row, in the columns import_catalog reads."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file to write (replaced if it exists)")

    def handle(self, *args, file, **options):
        target = Path(file)
        # Written beside the target and renamed at the end, so a failed export never
        # leaves a half-written file where a good one was.
        partial = target.with_name(f".{target.name}.partial")
        try:
            with open(partial, "w", encoding="utf-8", newline="") as handle:
                count = export_catalog(handle)
            os.replace(partial, target)
        except CatalogExportError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(f"Cannot write {file}: {error.strerror}.") from None
        finally:
            partial.unlink(missing_ok=True)
        self.stdout.write(self.style.SUCCESS(f"Exported {count} variants to {file}."))
