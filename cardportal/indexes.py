"""Index types the models share."""

from django.db import models

from cardportal.bulk import is_postgresql


class EqualityIndex(models.Index):
    """An index only ever probed with `=` (keyed hashes): a hash index on PostgreSQL, a btree
    elsewhere. A PostgreSQL hash index keeps a 4-byte hash code per row instead of the key, so
    for 1,000,000 members it is 32 MB instead of the btree's 56–75 MB, and a registration's
    100,000 inserts at random keys dirty that many fewer pages (measured in docs/benchmarks.md)."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if is_postgresql(schema_editor.connection.alias):
            using = " USING hash"
        return super().create_sql(model, schema_editor, using=using, **kwargs)
