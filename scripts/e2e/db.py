"""Create or drop a throw-away PostgreSQL database for one e2e run.

  python db.py create <name>   creates the database and Letta's schema (create_schema.py)
  python db.py drop <name>     drops it, closing any connection still open

The admin connection comes from LETTA_E2E_PG_ADMIN_URI (default postgresql://postgres@127.0.0.1:5432/postgres).
Runs with the letta venv's Python, which has psycopg2 (letta's postgres extra).
"""

import os
import re
import sys


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("create", "drop") or not re.fullmatch(r"letta_e2e_[a-z0-9_]+", sys.argv[2]):
        print("usage: db.py create|drop letta_e2e_<suffix>", file=sys.stderr)
        return 2
    action, name = sys.argv[1], sys.argv[2]
    admin_uri = os.environ.get("LETTA_E2E_PG_ADMIN_URI", "postgresql://postgres@127.0.0.1:5432/postgres")

    import psycopg2

    try:
        conn = psycopg2.connect(admin_uri)
    except Exception as e:  # noqa: BLE001 - the reason is the message
        print(f"db.py: cannot connect to PostgreSQL ({type(e).__name__}: {str(e).strip()})", file=sys.stderr)
        return 1
    conn.autocommit = True
    with conn.cursor() as cur:
        if action == "create":
            cur.execute(f'CREATE DATABASE "{name}"')
        else:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()

    if action == "create":
        base = admin_uri.rsplit("/", 1)[0]
        os.environ["LETTA_PG_URI"] = f"{base}/{name}"
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import create_schema

        return create_schema.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
