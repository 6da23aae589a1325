"""Upsert products and variants from a CSV file, matching variants by SKU."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from catalog.bulk import CatalogFileError, CatalogImportError, read_catalog_csv, upsert_catalog


class Command(BaseCommand):
    help = (
        "Create or update products and variants from a CSV file (one row per variant, "
        "matched by SKU). Every row is checked first: if any is bad, nothing is written. "
        "Changed prices go to the price history."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file in the columns export_catalog writes")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; write nothing."
        )

    def handle(self, *args, file, dry_run, **options):
        try:
            with open(file, encoding="utf-8-sig", newline="") as handle:
                rows, columns = read_catalog_csv(handle)
            report = upsert_catalog(
                rows=rows,
                columns=columns,
                dry_run=dry_run,
                reason=f"import_catalog {Path(file).name}",
            )
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        except CatalogFileError as error:
            raise CommandError(f"{file}: {error}") from None
        except CatalogImportError as error:
            for row_error in error.errors:
                self.stderr.write(str(row_error))
            raise CommandError(f"{file}: {error}") from None
        except DatabaseError as error:
            reason = str(error).strip().splitlines()[0]
            raise CommandError(
                f"The database refused the import; nothing was written: {reason}"
            ) from None
        if dry_run or options["verbosity"] > 1:
            for line in report.changes():
                self.stdout.write(f"  {line}")
        self.stdout.write(self.style.SUCCESS(report.summary()))
