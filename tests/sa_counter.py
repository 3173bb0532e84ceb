"""A SQLAlchemy ORM model on tabsqlite.dbapi, and (run as a script) a process that
increments its counter: ``python sa_counter.py DB_PATH TIMES``."""

from __future__ import annotations

import sys

from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import tabsqlite.dbapi


class Base(DeclarativeBase):
    pass


class Counter(Base):
    __tablename__ = "counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    value: Mapped[int] = mapped_column(Integer)


def increment(path: str, times: int) -> None:
    """Read the counter and write it back plus one, ``times`` times, each in its own ORM
    transaction (a lost update without the write lock taken at BEGIN)."""
    engine = create_engine(f"sqlite:///{path}", module=tabsqlite.dbapi)
    for _ in range(times):
        with Session(engine) as session, session.begin():
            row = session.scalars(select(Counter).where(Counter.name == "hits")).one()
            row.value = row.value + 1
    engine.dispose()


if __name__ == "__main__":
    increment(sys.argv[1], int(sys.argv[2]))
    print("done")
