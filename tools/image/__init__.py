"""The container image, built and run for real on machines without an image registry.

``python -m tools.image`` (see ``__main__``) starts a private Docker engine (Debian's
``docker.io``), makes the base images locally (``debootstrap`` + ``docker import``: nothing is
pulled), builds the committed Dockerfile on them, builds local twins of the third-party images
docker-compose.yml and the chart pull, and Docker Compose itself from its Go module.
"""
