from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination: stable under concurrent writes and O(1) at any depth."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"

    def get_page_size(self, request) -> int:
        """A ``page_size`` that is not a positive integer is a 400 (DRF ignores it); a larger
        one than ``max_page_size`` gets that many."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["A positive integer is required."]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (
                    f"Number of results to return per page (at most {self.max_page_size})."
                )
        return parameters

    def decode_cursor(self, request):
        """DRF's decoding (a bad base64 or offset is already "Invalid cursor"), and a position
        with NUL refused too: it would reach the ordering column's comparison as text that
        Postgres cannot hold."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and "\x00" in cursor.position:
            raise NotFound(self.invalid_cursor_message)
        return cursor
