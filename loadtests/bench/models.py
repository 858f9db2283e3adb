from django.db import models


class Product(models.Model):
    """The catalog's product table, read-only: the baseline queries the same rows."""

    slug = models.SlugField(max_length=220, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField()
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    stock = models.PositiveIntegerField()
    is_active = models.BooleanField()
    deleted_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "catalog_product"

    def __str__(self) -> str:
        return self.name
