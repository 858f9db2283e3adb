import random
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils.text import slugify
from faker import Faker

from bazaar.catalog import cache, services
from bazaar.catalog.models import Category, Product

CATEGORY_TREE = {
    "Home": ["Kitchen", "Living room", "Garden"],
    "Books": ["Fiction", "Science", "Cooking"],
    "Outdoors": ["Camping", "Cycling"],
    "Electronics": ["Audio", "Computers", "Phones"],
    "Fashion": ["Shoes", "Bags"],
}
BATCH_SIZE = 1000
EDITIONS = ["Pro", "Mini", "Classic", "Plus", "Lite", "Max"]


class Command(BaseCommand):
    help = "Create N realistic products (and the category tree) with Faker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--stock", type=int, default=None, help="stock of every product")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when products already exist"
        )

    def handle(
        self, *args, count: int, seed: int | None, stock: int | None, if_empty: bool, **options
    ):
        if count < 0:
            self.stderr.write("count must be 0 or more")
            return
        if if_empty and Product.objects.exists():
            self.stdout.write("Products exist already; nothing generated.")
            return
        fake = Faker()
        rng = random.Random(seed)
        if seed is not None:
            Faker.seed(seed)
        leaves = self._categories()
        existing = set(Product.objects.values_list("slug", flat=True))
        created = 0
        with transaction.atomic():
            while created < count:
                batch = []
                for _ in range(min(BATCH_SIZE, count - created)):
                    name = f"{fake.color_name()} {fake.word().title()} {rng.choice(EDITIONS)}"
                    slug = self._unique(slugify(name), existing)
                    batch.append(
                        Product(
                            category=rng.choice(leaves),
                            name=name,
                            slug=slug,
                            description=fake.paragraph(nb_sentences=4),
                            price=Decimal(rng.randint(199, 49999)) / 100,
                            currency="EUR",
                            stock=stock if stock is not None else rng.randint(0, 200),
                        )
                    )
                Product.objects.bulk_create(batch)
                created += len(batch)
            services.product_refresh_search()
        cache.invalidate()
        self.stdout.write(self.style.SUCCESS(f"Created {created} products."))

    def _categories(self) -> list[Category]:
        leaves = []
        for parent_name, children in CATEGORY_TREE.items():
            parent, _ = Category.objects.get_or_create(
                slug=slugify(parent_name), defaults={"name": parent_name}
            )
            for child_name in children:
                child, _ = Category.objects.get_or_create(
                    slug=slugify(child_name), defaults={"name": child_name, "parent": parent}
                )
                leaves.append(child)
        return leaves

    @staticmethod
    def _unique(slug: str, existing: set[str]) -> str:
        candidate, suffix = slug, 2
        while candidate in existing:
            candidate, suffix = f"{slug}-{suffix}", suffix + 1
        existing.add(candidate)
        return candidate
