"""Plain SQL for the hot paths: compiled once per database, run on the session's own cursor.

`Connection.execute` spends more time on bookkeeping (an execution context, a result object,
parameter processing) than SQLite spends running the small statements of a submit, and on
a submit all of that happened while holding the write lock. Here a statement is compiled
once for the dialect, its parameters are converted by the same bind processors SQLAlchemy
would use (datetimes on SQLite, JSON), and it runs on the DBAPI cursor of the session's
transaction: the session's commit or rollback still decides.
"""

from sqlalchemy.sql import ClauseElement

from .extensions import db


class Prepared:
    """One statement compiled for one dialect: its SQL, parameter order and converters."""

    def __init__(self, statement: ClauseElement, dialect, column_keys=None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        # qmark drivers (sqlite3) take a tuple in this order; named ones (psycopg) a dict.
        self.order = compiled.positiontup
        self.convert = {}
        for name, bind in compiled.binds.items():
            processor = bind.type._cached_bind_processor(dialect)
            if processor is not None:
                self.convert[name] = processor

    def params(self, values: dict):
        """The driver's parameters for `values`, converted as SQLAlchemy would."""
        if self.convert:
            values = {**values, **{name: convert(values[name])
                                   for name, convert in self.convert.items() if name in values}}
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


_prepared: dict = {}


def cursor():
    """A DBAPI cursor inside the session's transaction (begun now if it was not yet)."""
    return db.session.connection().connection.cursor()


def prepare(statement: ClauseElement, column_keys=None) -> Prepared:
    """`statement` compiled for the session's database, once per process."""
    dialect = db.session.get_bind().dialect
    key = (statement, dialect.name)
    if key not in _prepared:
        _prepared[key] = Prepared(statement, dialect, column_keys)
    return _prepared[key]


def execute(cursor_, statement: ClauseElement, values: dict, column_keys=None):
    """Run `statement` with `values` on `cursor_`; returns the cursor for its rows."""
    prepared = prepare(statement, column_keys)
    cursor_.execute(prepared.sql, prepared.params(values))
    return cursor_


def execute_many(cursor_, statement: ClauseElement, rows: list[dict]) -> None:
    """Run `statement` once per dict in `rows`, in one driver call."""
    prepared = prepare(statement)
    cursor_.executemany(prepared.sql, [prepared.params(row) for row in rows])
