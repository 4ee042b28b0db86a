"""Tell people of new work: a digest per channel when new events appear, each event once.

Runs in a thread of its own (a slow mail server must not delay a sync cycle). Every
``check_every`` seconds it notes outages from the circuit breakers' state, then, per channel
whose last digest is at least ``min_interval`` old, collects the events that channel was not
told of, delivers one digest, and marks them. A delivery that fails is logged and marks
nothing: its events come again with the next try. Nothing here stops the service.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from einklang.config import LoadedConfig
from einklang.masking import mask
from einklang.service.channels import Channel, DeliveryFailed, channels_of
from einklang.store import notifications
from einklang.store.reports import record_names
from einklang.store.state import StateStore, utcnow

log = logging.getLogger("einklang.service.notifier")


@dataclass(frozen=True)
class Delivery:
    channel: str
    events: int  # events carried
    error: str | None = None  # None: delivered


class Notifier:
    def __init__(
        self,
        config: LoadedConfig,
        store: StateStore,
        *,
        channels: Sequence[Channel] | None = None,
        on_delivery: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.settings = config.model.service.notifications
        self.store = store
        self.channels = list(channels_of(self.settings) if channels is None else channels)
        self.keys_of = {entity: config.entity_spec(entity).keys for entity in config.model.entities}
        self._on_delivery = on_delivery
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="einklang-notifier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.check_every):
            try:
                self.run_once()
            except Exception:  # the store was away: the next round tries again
                log.exception("notifications: the state store could not be read; trying again later")

    def run_once(self, now: dt.datetime | None = None) -> list[Delivery]:
        """One round: note outages, deliver a digest on each channel that has news and may send."""
        now = now or utcnow()
        with self.store.transaction() as conn:
            notifications.refresh_outages(conn, now)
        deliveries = []
        for channel in self.channels:
            delivery = self._serve_channel(channel, now)
            if delivery is not None:
                deliveries.append(delivery)
                if self._on_delivery is not None:
                    self._on_delivery(delivery)
        return deliveries

    def _serve_channel(self, channel: Channel, now: dt.datetime) -> Delivery | None:
        with self.store.read() as conn:
            last = notifications.last_sent(conn, channel.name)
            if last is not None and (now - last).total_seconds() < self.settings.min_interval:
                return None
            events = notifications.new_events(
                conn, channel.name, now, dt.timedelta(seconds=self.settings.unreachable_after)
            )
            if not events:
                return None
            names = record_names(conn, (event.golden_id for event in events), self.keys_of)
        try:
            channel.deliver(events, names, now)
        except DeliveryFailed as failed:
            log.warning("notifications: %s; trying again later", failed, extra={"system": None})
            return Delivery(channel.name, len(events), mask(str(failed)))
        with self.store.transaction() as conn:
            notifications.mark_sent(conn, channel.name, (event.key for event in events), now)
        log.info("notifications: digest of %d event(s) sent to %s", len(events), channel.name)
        return Delivery(channel.name, len(events))
