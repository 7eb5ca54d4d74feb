"""Retention: a campaign created with ``--retention-days N`` expires N days after its
creation. The server sweeps at start-up and then periodically (:class:`Sweeper`); an
expired campaign is removed exactly as ``pprl campaign delete`` removes it (files and
rows; the audit entries stay), audit-logged as action ``expire``. A campaign whose job
is queued or running is left until a later sweep."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from pprl.service.campaigns import delete_campaign
from pprl.service.db import campaigns
from pprl.service.state import Refused, Service

SWEEP_SECONDS = 3600.0

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def expiry(created_at: str, retention_days: int | None) -> datetime | None:
    """When a campaign created at ``created_at`` (ISO 8601) expires; None: never."""
    if retention_days is None:
        return None
    created = datetime.fromisoformat(created_at)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created + timedelta(days=int(retention_days))


def expired(service: Service, now: datetime) -> list[tuple[str, datetime]]:
    """The campaigns past their retention at ``now``, with the time each expired."""
    with service.engine.connect() as conn:
        rows = conn.execute(
            sa.select(campaigns.c.name, campaigns.c.created_at, campaigns.c.retention_days)
            .where(campaigns.c.retention_days.is_not(None))
            .order_by(campaigns.c.id)
        ).all()
    out = []
    for row in rows:
        due = expiry(row.created_at, row.retention_days)
        if due is not None and due <= now:
            out.append((str(row.name), due))
    return out


def sweep(service: Service, now: datetime | None = None) -> list[str]:
    """Delete every campaign past its retention at ``now`` (default: the current time);
    the names deleted. A campaign with an active job, or deleted meanwhile, is skipped."""
    now = now if now is not None else utc_now()
    done = []
    for name, due in expired(service, now):
        try:
            delete_campaign(
                service,
                None,
                name,
                action="expire",
                reason=f"retention ended {due.isoformat(timespec='seconds')}",
            )
        except Refused:  # a job is queued or running, or someone deleted it first
            continue
        done.append(name)
    return done


class Sweeper:
    """A daemon thread that runs :func:`sweep` every ``interval`` seconds until closed."""

    def __init__(
        self, service: Service, interval: float = SWEEP_SECONDS, clock: Clock = utc_now
    ) -> None:
        self.service = service
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the sweeping thread; again after :meth:`close` (an app's lifespan may run
        more than once, as in tests), a fresh one."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(self._stop,), name="pprl-retention", daemon=True
        )
        self._thread.start()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                sweep(self.service, self.clock())
            except Exception:  # noqa: BLE001 - a database hiccup: try at the next sweep
                continue

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=30)
