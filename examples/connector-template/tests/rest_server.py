"""A tiny real REST server for the template's tests: stdlib http.server in a thread, data in memory.

It speaks the API the template connector expects (see the README), over a real socket, so the
connector's HTTP handling is tested as it runs in production. ``RestStore`` is also the test's
back door: it changes records the way another user of the system would.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class _Entry:
    seq: int
    fields: dict[str, Any] | None  # None: deleted (a tombstone, kept for the change feed)


@dataclass
class RestStore:
    """Records per resource; every write takes the next sequence number, which is also the version."""

    resources: dict[str, dict[str, _Entry]] = field(default_factory=dict)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def _rows(self, resource: str) -> dict[str, _Entry]:
        return self.resources.setdefault(resource, {})

    def record(self, resource: str, native_id: str) -> dict[str, Any] | None:
        entry = self._rows(resource).get(native_id)
        if entry is None or entry.fields is None:
            return None
        return {"id": native_id, "version": str(entry.seq), "fields": dict(entry.fields)}

    def insert(self, resource: str, fields: Mapping[str, Any]) -> str:
        with self.lock:
            # Zero-padded ids keep the text order of ids their numeric order (keyset paging).
            native_id = f"{next(self._ids):08d}"
            self._rows(resource)[native_id] = _Entry(next(self._seq), dict(fields))
            return native_id

    def update(self, resource: str, native_id: str, fields: Mapping[str, Any]) -> None:
        with self.lock:
            entry = self._rows(resource)[native_id]
            assert entry.fields is not None
            self._rows(resource)[native_id] = _Entry(next(self._seq), {**entry.fields, **fields})

    def delete(self, resource: str, native_id: str) -> None:
        with self.lock:
            self._rows(resource)[native_id] = _Entry(next(self._seq), None)

    def live(self, resource: str) -> list[str]:
        return sorted(nid for nid, entry in self._rows(resource).items() if entry.fields is not None)

    def changes(self, resource: str, since: int, limit: int) -> dict[str, Any]:
        with self.lock:
            rows = sorted(self._rows(resource).items(), key=lambda item: item[1].seq)
            newer = [(nid, entry) for nid, entry in rows if entry.seq > since][:limit]
            latest = max((entry.seq for _, entry in rows), default=0)
            items = [
                {"id": nid, "seq": entry.seq, "deleted": entry.fields is None, "record": self.record(resource, nid)}
                for nid, entry in newer
            ]
        return {"items": items, "latest": latest}


class _Handler(BaseHTTPRequestHandler):
    store: RestStore  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, str | None, dict[str, str]]:
        url = urlsplit(self.path)
        parts = [part for part in url.path.split("/") if part]
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        return parts[0], (parts[1] if len(parts) > 1 else None), query

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        body: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
        return body

    def _version_matches(self, resource: str, native_id: str) -> bool:
        wanted = self.headers.get("If-Match")
        current = self.store.record(resource, native_id)
        return wanted is None or (current is not None and current["version"] == wanted)

    def do_GET(self) -> None:
        resource, native_id, query = self._route()
        store = self.store
        if native_id == "changes":
            self._answer(200, store.changes(resource, int(query.get("since", 0)), int(query.get("limit", 100))))
        elif native_id is not None:
            found = store.record(resource, native_id)
            self._answer(200, found) if found else self._answer(404, {"error": "not found"})
        else:
            after, limit = query.get("after", ""), int(query.get("limit", 100))
            ids = [nid for nid in store.live(resource) if nid > after][:limit]
            self._answer(200, {"items": [store.record(resource, nid) for nid in ids]})

    def do_POST(self) -> None:
        resource, _, _ = self._route()
        fields = self._body().get("fields", {})
        if not fields.get("name"):
            self._answer(400, {"error": "a record needs a name"})
            return
        self._answer(201, self.store.record(resource, self.store.insert(resource, fields)))

    def do_PATCH(self) -> None:
        resource, native_id, _ = self._route()
        assert native_id is not None
        with self.store.lock:
            if self.store.record(resource, native_id) is None:
                self._answer(404, {"error": "not found"})
            elif not self._version_matches(resource, native_id):
                self._answer(412, {"error": "version moved on"})
            else:
                self.store.update(resource, native_id, self._body().get("fields", {}))
                self._answer(200, self.store.record(resource, native_id))

    def do_DELETE(self) -> None:
        resource, native_id, _ = self._route()
        assert native_id is not None
        with self.store.lock:
            if self.store.record(resource, native_id) is None:
                self._answer(404, {"error": "not found"})
            elif not self._version_matches(resource, native_id):
                self._answer(412, {"error": "version moved on"})
            else:
                self.store.delete(resource, native_id)
                self._answer(204)


@contextmanager
def running_rest_server() -> Iterator[tuple[str, RestStore]]:
    """A server on a free local port; yields its base URL and its store."""
    store = RestStore()
    handler = type("Handler", (_Handler,), {"store": store})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
