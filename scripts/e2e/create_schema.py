"""Create Letta's database schema on a fresh PostgreSQL database, for the e2e suite.

Why this exists: the letta wheel ships no alembic migrations (the Docker image runs
`alembic upgrade head` from the source tree, see letta/server/startup.sh @ 0.16.7) and the
server does not create tables at start-up. So the schema is built from the installed
package's own ORM models with SQLAlchemy `metadata.create_all`, which gives exactly the
tables and columns that version's code queries.

pgvector is not available here (no Debian package), and Letta's ORM maps passage
embeddings to pgvector's `Vector` type (letta/orm/passage.py @ 0.16.7). For this schema only,
that column type is emitted as TEXT: pgvector's SQLAlchemy type binds and reads vectors as
text ('[1,2,3]'), so inserting and reading passages still works; only vector similarity
search (archival memory search) is unavailable, which nothing in memfs uses.

Usage: LETTA_PG_URI=postgresql://... python create_schema.py
"""

import os
import sys


def _add_fetched_defaults(conn, metadata) -> None:
    """Give every `server_default=FetchedValue()` column the default the migrations would create.

    Such columns are filled by the database (e.g. messages.sequence_id, letta/orm/message.py
    @ 0.16.7); create_all cannot know how, so integer ones get an owned sequence. Any other
    type is an unknown case: fail loudly rather than leave a column the server cannot insert.
    """
    from sqlalchemy import BigInteger, Integer, text
    from sqlalchemy.schema import DefaultClause, FetchedValue

    for table in metadata.sorted_tables:
        for col in table.columns:
            sd = col.server_default
            if sd is None or isinstance(sd, DefaultClause) or not isinstance(sd, FetchedValue):
                continue
            if not isinstance(col.type, (Integer, BigInteger)):
                raise SystemExit(f"create_schema.py: no rule for database-filled column {table.name}.{col.name} ({col.type})")
            seq = f"{table.name}_{col.name}_seq"
            conn.execute(text(f'CREATE SEQUENCE IF NOT EXISTS "{seq}" OWNED BY "{table.name}"."{col.name}"'))
            conn.execute(text(f'ALTER TABLE "{table.name}" ALTER COLUMN "{col.name}" SET DEFAULT nextval(\'"{seq}"\')'))


def main() -> int:
    uri = os.environ.get("LETTA_PG_URI")
    if not uri:
        print("create_schema.py: LETTA_PG_URI is not set", file=sys.stderr)
        return 2

    from pgvector.sqlalchemy import Vector
    from sqlalchemy import create_engine
    from sqlalchemy.ext.compiler import compiles

    @compiles(Vector, "postgresql")
    def _vector_as_text(_type, _compiler, **_kw):  # noqa: ANN001
        return "TEXT"

    # Importing letta.orm registers every model on the declarative Base.
    import letta.orm  # noqa: F401
    from letta.orm.base import Base

    sync_uri = uri.replace("postgresql+asyncpg://", "postgresql://", 1)
    engine = create_engine(sync_uri)
    with engine.begin() as conn:
        Base.metadata.create_all(conn)
        _add_fetched_defaults(conn, Base.metadata)
    engine.dispose()
    print(f"create_schema.py: {len(Base.metadata.tables)} tables ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
