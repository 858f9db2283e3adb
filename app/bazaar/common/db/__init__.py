"""Database backends of the app."""
