"""The service's state in a real database (SQLAlchemy): one row per call, with its spending.

SQLite by default, any SQLAlchemy URL in production (PostgreSQL), as JupyterHub itself does.
Budgets are sums over these rows, so usage survives a restart of the service.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, String, Text, create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class _Base(DeclarativeBase):
    pass


class CallRow(_Base):
    """One realtime call made through the service."""

    __tablename__ = "rt_notebook_calls"

    call_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    user: Mapped[str] = mapped_column(String(255), index=True)
    groups: Mapped[str] = mapped_column(Text, default="")
    """The user's JupyterHub groups when the call started, comma-separated."""
    model: Mapped[str] = mapped_column(String(120), default="")
    started: Mapped[float] = mapped_column(Float, index=True)
    ended: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    end_code: Mapped[str | None] = mapped_column(String(60), nullable=True, default=None)
    end_message: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    responses: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        end = self.ended if self.ended is not None else (now or time.time())
        return {
            "call_id": self.call_id,
            "user": self.user,
            "groups": [g for g in self.groups.split(",") if g],
            "model": self.model,
            "started": self.started,
            "ended": self.ended,
            "live": self.ended is None,
            "minutes": round(max(0.0, end - self.started) / 60, 3),
            "end_code": self.end_code,
            "end_message": self.end_message,
            "responses": self.responses,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }


def _sqlite_wal(connection: Any, _record: Any) -> None:
    """SQLite in write-ahead mode, synced at checkpoints: a commit costs no fsync (a class's
    burst of calls would otherwise queue behind the disk). A crash keeps the database
    consistent; a power cut may lose the last moments of usage."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@dataclass(frozen=True)
class Spending:
    """What a user spent since a moment: money, minutes (live calls count up to now), calls."""

    usd: float
    minutes: float
    calls: int


class Store:
    """Reads and writes of the calls table; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_wal)
        _Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def start_call(
        self, call_id: str, user: str, groups: Sequence[str], model: str, now: float
    ) -> None:
        with self._session() as db:
            db.add(
                CallRow(
                    call_id=call_id,
                    user=user,
                    groups=",".join(groups),
                    model=model,
                    started=now,
                )
            )

    def add_usage(
        self,
        call_id: str,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float,
        *,
        responses: int = 1,
    ) -> None:
        """Add what a call used (a response, or an input transcription: ``responses=0``)."""
        with self._session() as db:
            row = db.get(CallRow, call_id)
            if row is None:
                return
            row.responses += responses
            row.input_tokens += input_tokens
            row.output_tokens += output_tokens
            row.cost_usd += cost_usd

    def end_call(
        self, call_id: str, now: float, code: str = "ended", message: str | None = None
    ) -> bool:
        """Mark a call ended (once; a later end keeps the first reason). True if it was live."""
        with self._session() as db:
            row = db.get(CallRow, call_id)
            if row is None or row.ended is not None:
                return False
            row.ended, row.end_code, row.end_message = now, code, message
            return True

    def call(self, call_id: str) -> CallRow | None:
        with self._session() as db:
            return db.get(CallRow, call_id)

    def live_calls(self, user: str | None = None) -> list[CallRow]:
        query = select(CallRow).where(CallRow.ended.is_(None))
        if user is not None:
            query = query.where(CallRow.user == user)
        with self._session() as db:
            return list(db.scalars(query.order_by(CallRow.started)))

    def spending(self, user: str, since: float, now: float) -> Spending:
        """Money and minutes of the calls a user started at or after ``since``."""
        end = func.coalesce(CallRow.ended, now)
        query = select(
            func.coalesce(func.sum(CallRow.cost_usd), 0.0),
            func.coalesce(func.sum(end - CallRow.started), 0.0),
            func.count(CallRow.call_id),
        ).where(CallRow.user == user, CallRow.started >= since)
        with self._session() as db:
            usd, seconds, calls = db.execute(query).one()
        return Spending(usd=float(usd), minutes=max(0.0, float(seconds)) / 60, calls=int(calls))

    def recent_calls(self, limit: int = 200) -> list[CallRow]:
        with self._session() as db:
            query = select(CallRow).order_by(CallRow.started.desc()).limit(limit)
            return list(db.scalars(query))

    def totals_by_user(self, since: float, now: float) -> list[dict[str, Any]]:
        """Per user since ``since``: calls, minutes, money, groups (as of their last call)."""
        end = func.coalesce(CallRow.ended, now)
        query = (
            select(
                CallRow.user,
                func.count(CallRow.call_id),
                func.coalesce(func.sum(end - CallRow.started), 0.0),
                func.coalesce(func.sum(CallRow.cost_usd), 0.0),
                func.max(CallRow.groups),
            )
            .where(CallRow.started >= since)
            .group_by(CallRow.user)
            .order_by(CallRow.user)
        )
        with self._session() as db:
            rows = db.execute(query).all()
        return [
            {
                "user": user,
                "calls": int(calls),
                "minutes": round(float(seconds) / 60, 3),
                "usd": float(usd),
                "groups": [g for g in (groups or "").split(",") if g],
            }
            for user, calls, seconds, usd, groups in rows
        ]
