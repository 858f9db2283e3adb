import io

import pytest
from django.core.management import call_command
from PIL import Image

from bazaar.catalog.models import Category, Product, ProductImage

pytestmark = pytest.mark.django_db


def test_generate_fake_products_makes_searchable_products_in_the_category_tree(api_client):
    call_command("generate_fake_products", 120, "--seed", "3", stdout=io.StringIO())
    assert Product.objects.count() == 120
    assert Category.objects.filter(parent__isnull=True).exists()
    assert not Product.objects.filter(category__parent__isnull=True).exists(), "leaves only"
    word = Product.objects.first().name.split()[1]
    assert api_client.get(f"/api/v1/products/?q={word}").json()["results"]
    call_command("generate_fake_products", 10, "--if-empty", stdout=io.StringIO())
    assert Product.objects.count() == 120


def test_generate_product_images_writes_real_pngs(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    call_command("generate_fake_products", 3, stdout=io.StringIO())
    call_command("generate_product_images", 2, stdout=io.StringIO())
    images = list(ProductImage.objects.all())
    assert len(images) == 2
    for image in images:
        with Image.open(image.image.path) as png:
            assert png.format == "PNG"
            assert png.size == (480, 480)
            colours = png.getcolors(maxcolors=480 * 480)
            assert len(colours) > 100, "a gradient, not a flat colour"


def test_bootstrap_is_idempotent_and_creates_the_admin(monkeypatch, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Admin@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-password")
    for _ in range(2):
        call_command("bootstrap", "--products", "15", "--images", "1", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.check_password("a-long-admin-password")
    assert Product.objects.count() == 15
