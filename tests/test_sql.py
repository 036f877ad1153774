"""Plain SQL on the hot paths converts values exactly as SQLAlchemy would."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.dialects import sqlite

from mailer.sql import Prepared

STATEMENT = text("SELECT :at").bindparams(bindparam("at", type_=DateTime()))
SQLALCHEMY = sqlite.DATETIME().bind_processor(sqlite.dialect())
OURS = Prepared(STATEMENT, sqlite.dialect())


@given(st.datetimes() | st.datetimes(timezones=st.just(timezone(timedelta(hours=2)))))
def test_datetimes_are_written_as_sqlalchemy_writes_them(value):
    assert OURS.params({"at": value}) == (SQLALCHEMY(value),)


def test_none_and_edge_datetimes():
    for value in (None, datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999),
                  datetime(2026, 11, 23, 16, 46, 30), datetime(2026, 11, 23, tzinfo=UTC)):
        assert OURS.params({"at": value}) == (SQLALCHEMY(value),)
