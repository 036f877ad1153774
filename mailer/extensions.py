"""The Flask extensions, created once and bound to the app in `create_app`, and the database's
per-connection settings."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so every migration names constraints alike."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()


def begin_write() -> None:
    """Begin the session's transaction as a writer; call it before the transaction's first query.

    On SQLite a transaction that reads first and writes later cannot always take the write lock
    (another writer committed in between): it fails halfway. Begun as a writer, it waits for the
    lock at its start instead. PostgreSQL needs nothing here.
    """
    db.session.connection(execution_options={"sqlite_write": True})


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Tune SQLite for web processes plus workers, and make erased data really leave the file."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    # SQLAlchemy's documented recipe: the driver leaves transactions to `_sqlite_begin`.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the web process write while a worker reads; NORMAL is durable across app crashes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Overwrite deleted content with zeros: an erased address must not linger in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """Begin a SQLite transaction: IMMEDIATE (the write lock now) for a writer, else deferred."""
    if connection.dialect.name != "sqlite":
        return
    options = connection.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get("sqlite_write") else "BEGIN")
