"""The read replica's Postgres backend (``DATABASES["replica"]``)."""
