"""Fill an empty shop with demo data: staff accounts and customers to sign in as."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from accounts.services import create_address, create_user, setup_roles

DEMO_PASSWORD = "demo-shop-2026"  # noqa: S105 - demo data only, printed for the developer
STAFF = [
    ("admin@example.com", "Ada", "Admin", None),
    ("catalog@example.com", "Carl", "Catalog", "Catalog managers"),
    ("orders@example.com", "Olga", "Orders", "Order managers"),
    ("warehouse@example.com", "Wen", "Warehouse", "Warehouse staff"),
    ("support@example.com", "Sam", "Support", "Customer service"),
]


class Command(BaseCommand):
    help = "Create demo staff (one per role) and customers. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if users exist.")
        parser.add_argument("--customers", type=int, default=20)

    def handle(self, *args, if_empty, customers, **options):
        if if_empty and User.objects.exists():
            self.stdout.write("The database already has users; nothing seeded.")
            return
        with transaction.atomic():
            self.seed_staff()
            self.seed_customers(customers)
        self.stdout.write(
            self.style.SUCCESS(f"Seeded. Sign in as admin@example.com / {DEMO_PASSWORD}")
        )

    def seed_staff(self):
        groups = {group.name: group for group in setup_roles()}
        existing = set(User.objects.values_list("email", flat=True))
        for email, first_name, last_name, role in STAFF:
            if email not in existing:
                create_user(
                    email=email,
                    password=DEMO_PASSWORD,
                    first_name=first_name,
                    last_name=last_name,
                    is_staff=True,
                    is_superuser=role is None,
                    email_verified=True,
                    groups=[groups[role]] if role else [],
                )

    def seed_customers(self, count):
        existing = set(User.objects.values_list("email", flat=True))
        for n in range(1, count + 1):
            email = f"customer{n}@example.com"
            if email in existing:
                continue
            user = create_user(
                email=email,
                password=DEMO_PASSWORD,
                first_name="Customer",
                last_name=str(n),
                email_verified=True,
            )
            create_address(
                user=user,
                full_name=f"Customer {n}",
                line1=f"{n} Market Street",
                city="Berlin",
                postal_code="10115",
                country="DE",
            )
