"""Plain SQL for the hot paths: compiled once per database, run on a DBAPI cursor.

`Connection.execute` spends more time on bookkeeping (an execution context, a result object,
parameter processing) than SQLite spends running the small statements of a submit, and on
a submit all of that happened while holding the write lock. Here a statement is compiled
once for the dialect, its parameters are converted by the same bind processors SQLAlchemy
would use (datetimes on SQLite, JSON), and it runs on a DBAPI cursor inside a transaction
that someone else commits: the session's (`cursor()`) or a shared write's (`writes.write`).
"""

from datetime import datetime
from functools import lru_cache

from sqlalchemy import DateTime, Table, bindparam, text
from sqlalchemy.sql import ClauseElement

from .extensions import db


class Prepared:
    """One statement compiled for one dialect: its SQL, parameter order and converters."""

    def __init__(self, statement: ClauseElement, dialect, column_keys=None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        converters = {}
        for name, bind in compiled.binds.items():
            processor = bind.type._cached_bind_processor(dialect)
            sqlite_datetime = dialect.name == "sqlite" and isinstance(bind.type, DateTime)
            if processor is not None and sqlite_datetime:
                processor = _sqlite_datetime(processor)
            if processor is not None:
                converters[name] = processor
        # qmark drivers (sqlite3) take a tuple in this order; named ones (psycopg) a dict.
        self.positional = compiled.positiontup is not None
        names = compiled.positiontup if self.positional else list(compiled.binds)
        self.fields = [(name, converters.get(name)) for name in names]

    def params(self, values: dict):
        """The driver's parameters for `values`, converted as SQLAlchemy would."""
        if self.positional:
            return tuple(values[name] if convert is None else convert(values[name])
                         for name, convert in self.fields)
        return {name: values[name] if convert is None else convert(values[name])
                for name, convert in self.fields if name in values}


def _sqlite_datetime(processor):
    """SQLAlchemy's text form of a datetime on SQLite, made by one C call for naive ones.

    `2026-11-23 16:46:30.000000`: what `processor` makes of a naive datetime, ten times faster
    (a submit converts more than a dozen); anything else still goes through `processor`.
    """
    def convert(value):
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return processor(value)

    return convert


_prepared: dict = {}


def cursor():
    """A DBAPI cursor inside the session's transaction (begun now if it was not yet)."""
    return db.session.connection().connection.cursor()


def prepare(cursor_, statement: ClauseElement, column_keys=None) -> Prepared:
    """`statement` compiled for the database behind `cursor_`, once per process.

    A process reaches one kind of database through one driver, so the cursor's type tells
    the dialect without asking the app for its engine on every statement.
    """
    key = (statement, type(cursor_))
    prepared = _prepared.get(key)
    if prepared is None:
        if len(_prepared) >= 1024:  # statements built per shape come and go; keep this bounded
            _prepared.clear()
        prepared = _prepared[key] = Prepared(statement, db.engine.dialect, column_keys)
    return prepared


def dialect_name(cursor_) -> str:
    """"sqlite" or "postgresql": the database behind `cursor_`."""
    return "sqlite" if type(cursor_).__module__ == "sqlite3" else db.engine.dialect.name


def execute(cursor_, statement: ClauseElement, values: dict, column_keys=None):
    """Run `statement` with `values` on `cursor_`; returns the cursor for its rows."""
    prepared = prepare(cursor_, statement, column_keys)
    cursor_.execute(prepared.sql, prepared.params(values))
    return cursor_


def execute_many(cursor_, statement: ClauseElement, rows: list[dict]) -> None:
    """Run `statement` once per dict in `rows`, in one driver call."""
    prepared = prepare(cursor_, statement)
    cursor_.executemany(prepared.sql, [prepared.params(row) for row in rows])


def insert_rows(cursor_, table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in one statement.

    `execute_many` runs the statement once per row, and each run gives up Python's
    interpreter lock and waits for it again: under load, inside the write lock, that wait
    cost more than the inserts.
    """
    columns = tuple(rows[0])
    values = {f"{column}_{n}": row[column] for n, row in enumerate(rows) for column in columns}
    execute(cursor_, _insert_statement(table, columns, len(rows)), values)


@lru_cache(maxsize=128)
def _insert_statement(table: Table, columns: tuple[str, ...], count: int):
    """INSERT INTO `table` of `count` rows of `columns`, typed as the table's columns are."""
    rows = ", ".join("(" + ", ".join(f":{column}_{n}" for column in columns) + ")"
                     for n in range(count))
    statement = text(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {rows}")
    return statement.bindparams(*(bindparam(f"{column}_{n}", type_=table.c[column].type)
                                  for n in range(count) for column in columns))
