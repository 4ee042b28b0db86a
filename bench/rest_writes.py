"""BottleCRM: update throughput with concurrent requests, and what a quiet cycle costs.

Against a real BottleCRM (django-crm 1.35 as ``scripts/servers/bottlecrm.sh`` runs it: Django's
threaded development server on SQLite), started by this script in a scratch folder unless
``--url`` and ``--token`` name one.

Writes. ``--records`` contacts are created, then each run updates every one of them (a new
city, conditional on the version read before) in three ways, in an order that rotates per run:

* ``one at a time``: ``connector.update`` in a loop (concurrency 1), einklang's behaviour
  before the pool: GET (version check), PATCH, GET (the new version) per record;
* ``update_many`` at ``--concurrency`` (each value): the same three requests per record, that
  many records in flight.

Reported per run: records per second and the ratio to the one-at-a-time rate of the same run;
then the medians.

Network latency. The test server runs next to einklang, with no round trip to overlap. With
``--rtt-ms`` (one or more values) the writes go through a TCP proxy in this script that delays
every chunk by half the round trip in each direction (and a new connection by a whole one),
forwarding to the same BottleCRM: the series above is measured once per value, in the same run.
The proxy delays what the application sends; TCP's own acknowledgements between proxy and server
stay local (a server waiting for one before its next segment, Nagle's rule, waits less than
across a real network).

``--stub``: instead of BottleCRM, a stand-in server (this script in a process of its own)
answering the contact GET/PATCH/POST at once: the server is never the bottleneck, so what the
pool gains is bounded by einklang's own side and the round trip only.

``--gunicorn N`` serves BottleCRM with N worker processes on a copy of the SQLite template; with
``--postgres DBNAME --token T`` on a PostgreSQL database migrated and bootstrapped beforehand
(``BOTTLECRM_USE_POSTGRES=1 DBNAME=... django-admin migrate``, then
``scripts/servers/bottlecrm_bootstrap.py`` for the token, as ``bottlecrm.sh template`` does).

Reads. With the same contacts (and ``--quiet-records`` in all), the requests and the time of one
``read_changes`` from the previous cursor with no change: through the activity feed (the
default) against a full list scan (``change_feed: false``, einklang's behaviour before); and
with ``--changes`` contacts changed, through the feed.

    .venv/bin/python bench/rest_writes.py --runs 3 --records 60 --concurrency 4 8
    .venv/bin/python bench/rest_writes.py --runs 3 --records 40 --concurrency 4 8 16 \
        --rtt-ms 0 20 50 --no-reads
    .venv/bin/python bench/rest_writes.py --stub --runs 3 --records 40 --concurrency 4 8 16 --rtt-ms 0 20 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from einklang.connectors.base import ChangePage, ConnectorError, NativeRecord
from einklang.connectors.bottlecrm import BottleCrmConnector
from einklang.connectors.bottlecrm.connector import RecordUpdate

ROOT = Path(__file__).resolve().parent.parent
ENTITIES = {"person": {"resource": "contact"}}


@contextmanager
def bottlecrm(
    url: str | None, token: str | None, workers: int, stub: bool = False, postgres: str | None = None
) -> Iterator[tuple[str, str]]:
    if stub:
        with stub_server() as started:
            yield started
        return
    if url and token:
        yield url, token
        return
    if workers:
        with gunicorn(workers, postgres, token) as started:
            yield started
        return
    script = ROOT / "scripts" / "servers" / "bottlecrm.sh"
    with tempfile.TemporaryDirectory(prefix="bench-bottlecrm-") as folder:
        started = subprocess.run(["bash", str(script), "start", folder], capture_output=True, text=True, check=True)
        found = dict(re.findall(r"^(url|token)=(.*)$", started.stdout, re.M))
        try:
            yield found["url"], found["token"]
        finally:
            subprocess.run(["bash", str(script), "stop", folder], capture_output=True, check=False)


class StubHandler(BaseHTTPRequestHandler):
    """BottleCRM's contact endpoints as far as this bench uses them, answered at once: a server
    that is never the bottleneck, so what is left is einklang's own side and the round trip."""

    protocol_version = "HTTP/1.1"
    server: StubBottleCrm

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        self.wfile.write(head.encode() + data)  # one write: no wait for a delayed ACK in between

    def _contact(self, native_id: str) -> dict[str, Any]:
        fields = self.server.contacts.setdefault(native_id, {"first_name": "Bench", "last_name": "Muster"})
        return {"id": native_id, **fields, "updated_at": f"2026-12-06T00:00:{fields.get('n', 0):02d}Z"}

    def do_GET(self) -> None:
        native_id = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        with self.server.lock:
            self._answer({"contact_obj": self._contact(native_id)})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            native_id = str(len(self.server.contacts) + 1)
            self._contact(native_id)
        self._answer({"id": native_id})

    def do_PATCH(self) -> None:
        patch = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        native_id = self.path.rstrip("/").rsplit("/", 1)[-1]
        with self.server.lock:
            fields = self.server.contacts.setdefault(native_id, {})
            fields.update(patch)
            fields["n"] = int(fields.get("n", 0)) + 1
        self._answer({"error": False})


class StubBottleCrm(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.lock = threading.Lock()
        self.contacts: dict[str, dict[str, Any]] = {}


@contextmanager
def stub_server() -> Iterator[tuple[str, str]]:
    """The stub in a process of its own (so it does not share einklang's interpreter lock)."""
    process = subprocess.Popen([sys.executable, __file__, "--serve-stub"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}", "stub-token"
    finally:
        process.terminate()
        process.wait(30)


def serve_stub() -> None:
    server = StubBottleCrm()
    print(server.server_address[1], flush=True)
    server.serve_forever()


@contextmanager
def gunicorn(workers: int, postgres: str | None = None, token: str | None = None) -> Iterator[tuple[str, str]]:
    """BottleCRM as it is deployed (several worker processes), on a copy of the test template,
    or on the PostgreSQL database ``postgres`` (migrated and bootstrapped, ``token`` its token)."""
    servers = Path(os.environ.get("EINKLANG_SERVERS_DIR", "/work/.einklang-servers")) / "bottlecrm"
    with tempfile.TemporaryDirectory(prefix="bench-bottlecrm-") as folder:
        database = Path(folder) / "db.sqlite3"
        port = 18000 + os.getpid() % 1000
        environ = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "scripts" / "servers"),
            "DJANGO_SETTINGS_MODULE": "einklang_bottlecrm_settings",
            "BOTTLECRM_SQLITE": str(database),
        }
        if postgres:
            environ.update(BOTTLECRM_USE_POSTGRES="1", DBNAME=postgres, DBUSER="postgres", DBPASSWORD="")
            environ.update(DBHOST="127.0.0.1", DBPORT="5432")
        else:
            shutil.copyfile(servers / "template" / "db.sqlite3", database)
            token = (servers / "template" / "token").read_text().strip()
        command = [str(servers / "venv" / "bin" / "gunicorn"), "crm.wsgi:application"]
        command += ["-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
        log = (Path(folder) / "gunicorn.log").open("w")
        process = subprocess.Popen(command, env=environ, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/healthz/", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            assert token, "--postgres needs --token"
            yield url, token
        finally:
            process.terminate()
            process.wait(30)
            log.close()


class LatencyProxy:
    """A TCP proxy adding ``rtt_ms / 2`` to each direction (a whole ``rtt_ms`` to a new
    connection), in an asyncio loop on its own thread. Chunks keep their order and are not held
    back by one another: each is due at the time it was read plus the delay, as on a wire."""

    def __init__(self, target: str, rtt_ms: float) -> None:
        found = re.match(r"https?://([^:/]+):(\d+)", target)
        assert found, target
        self.target_host, self.target_port = found.group(1), int(found.group(2))
        self.delay = rtt_ms / 2000
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    def __enter__(self) -> str:
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        port = started.result(10)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_exc: object) -> None:
        async def stop() -> None:
            if self.server is not None:
                self.server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _start(self) -> int:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.sleep(2 * self.delay)  # the TCP handshake
            server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
            await asyncio.gather(
                self._pipe(client_reader, server_writer),
                self._pipe(server_reader, client_writer),
                return_exceptions=True,
            )
        except asyncio.CancelledError:  # the proxy stops
            client_writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(chunk)
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(deliver())
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((loop.time() + self.delay, chunk))
        finally:
            queue.put_nowait((0.0, b""))
            await sender


def connector(url: str, token: str, **settings: Any) -> BottleCrmConnector:
    return BottleCrmConnector("crm", {"url": url, "token": token, **settings}, ENTITIES)


def create_contacts(url: str, token: str, count: int) -> list[str]:
    """Set-up only (not measured): plain concurrent POSTs, distinct e-mails."""
    tag = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:

        def create(index: int) -> str:
            body = {"first_name": f"Bench{index}", "last_name": "Muster", "email": f"b{index}-{tag}@example.org"}
            response = client.post("/api/contacts/", json=body)
            response.raise_for_status()
            return str(response.json()["id"])

        with ThreadPoolExecutor(6) as pool:
            return list(pool.map(create, range(count)))


def timed_updates(crm: BottleCrmConnector, versions: dict[str, str], concurrency: int, label: str) -> float:
    """Update every record once; returns records per second. ``versions`` is brought up to date."""
    ids = sorted(versions)
    updates = [RecordUpdate(i, {"city": f"{label}-{n}"}, versions[i]) for n, i in enumerate(ids)]
    started = time.perf_counter()
    if concurrency == 1:
        results: list[NativeRecord | ConnectorError] = [
            crm.update("person", u.native_id, u.patch, u.expected_version) for u in updates
        ]
    else:
        results = list(crm.update_many("person", updates))
    seconds = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, ConnectorError)]
    if failed:
        raise SystemExit(f"{label}: {len(failed)} update(s) failed, first: {failed[0]}")
    for result in results:
        assert isinstance(result, NativeRecord)
        versions[result.native_id] = result.version or ""
    return len(ids) / seconds


def write_runs(url: str, token: str, ids: Sequence[str], runs: int, levels: Sequence[int]) -> list[dict[int, float]]:
    crm = connector(url, token, concurrency=max(levels))
    versions = {i: r.version or "" for i, r in crm.get("person", list(ids)).items()}
    sequential = connector(url, token, concurrency=1)
    timed_updates(crm, versions, max(levels), "warm-up")  # every server thread / worker has loaded Django
    table: list[dict[int, float]] = []
    order = [1, *levels]
    for run in range(runs):
        rates: dict[int, float] = {}
        for level in order[run % len(order) :] + order[: run % len(order)]:
            client = sequential if level == 1 else connector(url, token, concurrency=level)
            rates[level] = timed_updates(client, versions, level, f"r{run}c{level}")
            if client is not sequential:
                client.close()
        table.append(rates)
        cells = "  ".join(f"c{level}: {rates[level]:6.1f}/s ({rates[level] / rates[1]:.2f}x)" for level in order)
        print(f"run {run}: {cells}", flush=True)
    crm.close()
    sequential.close()
    return table


class Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


class Versions:
    """What the engine's snapshot store holds: the versions last reported."""

    def __init__(self) -> None:
        self.versions: dict[str, str] = {}

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        return {i: self.versions[i] for i in ids if i in self.versions}

    def known_ids(self) -> Iterator[str]:
        return iter(list(self.versions))

    def store(self, pages: list[ChangePage]) -> None:
        for page in pages:
            self.versions.update({r.native_id: r.version or "" for r in page.records})
            for gone in page.deleted_ids:
                self.versions.pop(gone, None)


def read_cost(url: str, token: str, ids: Sequence[str], changes: int) -> dict[str, tuple[int, float, int]]:
    """(requests, seconds, records reported) of one read of changes per way of reading."""
    results: dict[str, tuple[int, float, int]] = {}
    for label, settings in (("activity feed", {}), ("full list scan", {"change_feed": False})):
        transport = Counting()
        crm = BottleCrmConnector(
            "crm", {"url": url, "token": token, "overlap_seconds": 0, **settings}, ENTITIES, transport=transport
        )
        snapshots = Versions()
        pages = list(crm.read_changes("person", None, snapshots))
        snapshots.store(pages)
        cursor = pages[-1].cursor
        time.sleep(1.1)  # past the overlap of the timestamps read
        for kind, changed in (("quiet", 0), (f"{changes} changed", changes)):
            if changed:
                versions = {i: r.version for i, r in crm.get("person", list(ids[:changed])).items()}
                list(  # update_many is lazy: it writes as its outcomes are taken
                    crm.update_many(
                        "person", [RecordUpdate(i, {"title": uuid.uuid4().hex[:6]}, v) for i, v in versions.items()]
                    )
                )
            transport.requests = 0
            started = time.perf_counter()
            pages = list(crm.read_changes("person", cursor, snapshots))
            seconds = time.perf_counter() - started
            snapshots.store(pages)
            cursor = pages[-1].cursor if pages else cursor
            results[f"{label}, {kind}"] = (transport.requests, seconds, sum(len(p.records) for p in pages))
        crm.close()
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--records", type=int, default=60, help="contacts updated per run and way")
    parser.add_argument("--quiet-records", type=int, default=300, help="contacts present for the read costs")
    parser.add_argument("--changes", type=int, default=10, help="contacts changed for the read cost with changes")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8])
    parser.add_argument(
        "--gunicorn", type=int, default=0, metavar="WORKERS", help="serve BottleCRM with gunicorn and this many workers"
    )
    parser.add_argument(
        "--rtt-ms", type=float, nargs="+", default=[], help="round trips to add through a proxy (each a series)"
    )
    parser.add_argument("--no-reads", action="store_true", help="skip the costs of reading changes")
    parser.add_argument(
        "--stub", action="store_true", help="a stand-in server in this script that answers at once (writes only)"
    )
    parser.add_argument(
        "--postgres", metavar="DBNAME", help="with --gunicorn: BottleCRM on this PostgreSQL database (and --token)"
    )
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--serve-stub", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_stub:
        serve_stub()
        return
    server = f"gunicorn, {args.gunicorn} workers" if args.gunicorn else "Django runserver (scripts/servers)"
    if args.stub:
        server, args.no_reads = "stub server in this script (answers at once)", True
    print(f"machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    if args.postgres:
        server += f", PostgreSQL database {args.postgres}"
    print(f"BottleCRM: {args.url or server}, load average before: {os.getloadavg()[0]:.1f}")
    with bottlecrm(None if args.postgres else args.url, args.token, args.gunicorn, args.stub, args.postgres) as (
        url,
        token,
    ):
        ids = create_contacts(url, token, max(args.records, 0 if args.no_reads else args.quiet_records))
        summary: dict[float | None, list[dict[int, float]]] = {}
        for rtt in args.rtt_ms or [None]:
            if rtt is None:
                table = write_runs(url, token, ids[: args.records], args.runs, args.concurrency)
            else:
                print(f"\nround trip added: {rtt:g} ms", flush=True)
                with LatencyProxy(url, rtt) as proxied:
                    table = write_runs(proxied, token, ids[: args.records], args.runs, args.concurrency)
            summary[rtt] = table
            print_table(table, args.concurrency)
        if args.rtt_ms:
            print_summary(summary, args.concurrency)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        if args.no_reads:
            return
        costs = read_cost(url, token, ids, args.changes)
        print(f"\nread of changes with {len(ids)} contacts:\n")
        print("| way | requests | seconds | records reported |\n|---|---:|---:|---:|")
        for label, (requests, seconds, reported) in costs.items():
            print(f"| {label} | {requests} | {seconds:.3f} | {reported} |")


def print_table(table: list[dict[int, float]], levels: Sequence[int]) -> None:
    print("\n| run | one at a time |" + "".join(f" concurrency {c} |" for c in levels))
    print("|---:|---:|" + "---:|" * len(levels))
    for run, rates in enumerate(table):
        cells = "".join(f" {rates[c]:.1f}/s ({rates[c] / rates[1]:.2f}x) |" for c in levels)
        print(f"| {run} | {rates[1]:.1f}/s |{cells}")
    base = statistics.median(r[1] for r in table)
    medians = "".join(
        f" **{statistics.median(r[c] for r in table):.1f}/s ({statistics.median(r[c] / r[1] for r in table):.2f}x)** |"
        for c in levels
    )
    print(f"| **median** | **{base:.1f}/s** |{medians}", flush=True)


def print_summary(summary: dict[float | None, list[dict[int, float]]], levels: Sequence[int]) -> None:
    """Medians per added round trip: rate at one at a time, ratio at each concurrency."""
    print("\n| round trip added | one at a time |" + "".join(f" concurrency {c} |" for c in levels))
    print("|---:|---:|" + "---:|" * len(levels))
    for rtt, table in summary.items():
        base = statistics.median(r[1] for r in table)
        cells = "".join(
            f" {statistics.median(r[c] for r in table):.1f}/s ({statistics.median(r[c] / r[1] for r in table):.2f}x) |"
            for c in levels
        )
        print(f"| {rtt:g} ms | {base:.1f}/s |{cells}")


if __name__ == "__main__":
    main()
