"""Serializer fields that take JSON as the OpenAPI schema says: a string field takes only a
string, at most ``max_length`` long as sent, and a boolean only ``true`` or ``false``.

DRF's own fields coerce (the number ``0`` becomes ``"0"``, ``"yes"`` becomes ``True``) and
check the length after trimming whitespace, so bodies the schema calls invalid would be
stored. The writable serializers use :class:`ModelSerializer` from here.
"""

from django.db import models
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.BooleanField: StrictBooleanField,
    }
