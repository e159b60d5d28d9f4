"""The audit trail cannot be edited: the database itself refuses UPDATE and DELETE."""

from django.db import migrations

PG_UP = """
CREATE OR REPLACE FUNCTION identity_accessevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail (identity_accessevent) is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER identity_accessevent_no_update BEFORE UPDATE OR DELETE ON identity_accessevent
    FOR EACH ROW EXECUTE FUNCTION identity_accessevent_append_only();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS identity_accessevent_no_update ON identity_accessevent;
DROP FUNCTION IF EXISTS identity_accessevent_append_only();
"""
# On SQLite (the single-machine default) only UPDATE is refused in the database: Django's
# test flush empties tables with DELETE, which a DELETE trigger would abort. No code path
# deletes audit rows, and the admin shows them read-only.
SQLITE_UP = [
    """CREATE TRIGGER identity_accessevent_no_update BEFORE UPDATE ON identity_accessevent
    BEGIN SELECT RAISE(ABORT, 'the audit trail (identity_accessevent) is append-only'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS identity_accessevent_no_update;",
    "DROP TRIGGER IF EXISTS identity_accessevent_no_delete;",
]


def forwards(apps, schema_editor):
    statements = [PG_UP] if schema_editor.connection.vendor == "postgresql" else SQLITE_UP
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = [PG_DOWN] if schema_editor.connection.vendor == "postgresql" else SQLITE_DOWN
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("identity", "0002_residents")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
