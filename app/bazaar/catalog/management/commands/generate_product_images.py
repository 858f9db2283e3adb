import colorsys
import io
import random

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandParser
from PIL import Image, ImageDraw, ImageFont

from bazaar.catalog import cache
from bazaar.catalog.models import Product, ProductImage

SIZE = (480, 480)


def render_product_image(name: str, *, seed: int) -> bytes:
    """A real PNG: a two-colour gradient with the product's initials."""
    rng = random.Random(seed)
    hue = rng.random()
    top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.95))
    bottom = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.12) % 1, 0.75, 0.6))
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        mix = y / (SIZE[1] - 1)
        draw.line(
            [(0, y), (SIZE[0], y)],
            fill=tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)),
        )
    initials = "".join(word[0] for word in name.split()[:2]).upper() or "?"
    font = ImageFont.load_default(size=160)
    draw.text((SIZE[0] / 2, SIZE[1] / 2), initials, fill="white", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Give N products without images a generated PNG image."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int)

    def handle(self, *args, count: int, **options):
        products = (
            Product.objects.alive().filter(images__isnull=True).order_by("pk")[: max(count, 0)]
        )
        made = 0
        for product in products:
            image = ProductImage(product=product, alt_text=product.name)
            image.image.save(
                f"{product.slug}.png",
                ContentFile(render_product_image(product.name, seed=product.pk)),
                save=False,
            )
            image.save()
            made += 1
        cache.invalidate()
        self.stdout.write(self.style.SUCCESS(f"Generated {made} product images."))
