"""Safety net for writes that bypass the services (the admin, the shell): any save or delete of
a catalog model invalidates the read cache after commit."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import cache
from .models import Category, Product, ProductImage


@receiver([post_save, post_delete], sender=Product)
def _product_changed(sender, instance: Product, **kwargs):
    transaction.on_commit(lambda: cache.invalidate(slugs=[instance.slug]))


@receiver([post_save, post_delete], sender=ProductImage)
def _image_changed(sender, instance: ProductImage, **kwargs):
    slug = Product.objects.filter(pk=instance.product_id).values_list("slug", flat=True).first()
    transaction.on_commit(lambda: cache.invalidate(slugs=[slug] if slug else []))


@receiver([post_save, post_delete], sender=Category)
def _category_changed(sender, instance: Category, **kwargs):
    transaction.on_commit(lambda: cache.invalidate())
