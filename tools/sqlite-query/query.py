"""Read-only SQLite query (the CodexOS `sqlite-query` tool): SQL on stdin, rows as JSON."""
import json
import pathlib
import sqlite3
import sys

LIMIT = 200


def main() -> None:
    database = pathlib.Path(sys.argv[1]).resolve()
    if not database.is_file():
        sys.exit(f"no database file `{sys.argv[1]}`")
    sql = sys.stdin.read()
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        cursor = connection.execute(sql)
        columns = [column[0] for column in cursor.description or []]
        rows = [dict(zip(columns, row)) for row in cursor.fetchmany(LIMIT + 1)]
    except sqlite3.Error as error:
        sys.exit(f"SQL error: {error}")
    more = len(rows) > LIMIT
    print(json.dumps({"columns": columns, "rows": rows[:LIMIT], "more": more}, default=str))


main()
