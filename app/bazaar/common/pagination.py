from rest_framework import pagination
from rest_framework.exceptions import NotFound


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination: stable under concurrent writes and O(1) at any depth."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"

    def decode_cursor(self, request):
        """DRF's decoding (a bad base64 or offset is already "Invalid cursor"), and a position
        with NUL refused too: it would reach the ordering column's comparison as text that
        Postgres cannot hold."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and "\x00" in cursor.position:
            raise NotFound(self.invalid_cursor_message)
        return cursor
