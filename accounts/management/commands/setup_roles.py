from django.core.management.base import BaseCommand

from accounts.services import setup_roles


class Command(BaseCommand):
    help = "Create the staff groups and give each the permissions its role needs."

    def handle(self, *args, **options):
        for group in setup_roles():
            self.stdout.write(f"{group.name}: {group.permissions.count()} permissions")
