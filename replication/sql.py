"""Database functions that run natively on every backend the project supports (SQLite, PostgreSQL).

Django's TruncHour and datetime subtraction call a Python function for every row on SQLite, which made the
registry page's charts take seconds over tens of thousands of copies; these compile to each database's own
arithmetic instead.
"""
from django.db.models import FloatField, Func, IntegerField


class EpochSeconds(Func):
    """A datetime column as seconds since 1970-01-01 UTC (float)."""

    arity = 1
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):  # Django stores UTC text that julianday() reads
        return self.as_sql(compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
                           **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::double precision",
                           **extra)


class EpochHour(Func):
    """A datetime column as whole hours since 1970-01-01 UTC (the hour it falls in)."""

    arity = 1
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection,
                           template="CAST((julianday(%(expressions)s) - 2440587.5) * 24.0 AS INTEGER)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection,
                           template="FLOOR(EXTRACT(EPOCH FROM %(expressions)s) / 3600)::bigint", **extra)
