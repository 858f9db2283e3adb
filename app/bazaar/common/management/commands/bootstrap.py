import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Make a database ready to use: migrate, create the admin from DJANGO_SUPERUSER_EMAIL "
        "and DJANGO_SUPERUSER_PASSWORD, and load demo data when the catalog is empty. "
        "Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--products", type=int, default=int(os.environ.get("DEMO_PRODUCTS", "200"))
        )
        parser.add_argument("--images", type=int, default=int(os.environ.get("DEMO_IMAGES", "24")))
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, *args, products: int, images: int, no_migrate: bool, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL")
        wanted = bool(email and os.environ.get("DJANGO_SUPERUSER_PASSWORD"))
        if wanted and not get_user_model().objects.filter(email=email.lower()).exists():
            call_command("createsuperuser", interactive=False, email=email.lower(), verbosity=0)
            self.stdout.write(f"Created the admin {email}.")
        call_command("generate_fake_products", products, "--if-empty", "--seed", "7")
        if images:
            call_command("generate_product_images", images)
        self.stdout.write(self.style.SUCCESS("Bootstrap done."))
