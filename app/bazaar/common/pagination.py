from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination: stable under concurrent writes and O(1) at any depth."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"
