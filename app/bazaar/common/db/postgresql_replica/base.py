"""The read replica's backend: the app's Postgres backend, except that an error which may mean
the replica (or the way to it) is in trouble is ``ReplicaReadFailed``, so that
``bazaar.common.db.replica`` can run the read again on the primary.

Like Django's own ``errors_occurred`` flag, bad data (``DataError``) and constraint errors are
left as they are: the primary would answer them the same way.
"""

from django.db.utils import DatabaseErrorWrapper, DataError, Error, IntegrityError
from django.utils.functional import cached_property

from bazaar.common.db.postgresql import base
from bazaar.common.db.replica import ReplicaReadFailed


class ReplicaErrorWrapper(DatabaseErrorWrapper):
    def __exit__(self, exc_type, exc_value, traceback):
        try:
            super().__exit__(exc_type, exc_value, traceback)
        except (DataError, IntegrityError):
            raise
        except Error as error:
            raise ReplicaReadFailed(*error.args).with_traceback(traceback) from exc_value


class DatabaseWrapper(base.DatabaseWrapper):
    @cached_property
    def wrap_database_errors(self) -> ReplicaErrorWrapper:
        return ReplicaErrorWrapper(self)
