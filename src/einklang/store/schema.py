"""State store tables (SQLAlchemy Core). Migrations in ``migrations/`` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # load, sync, import, review, undo
    Column("entity", String(64)),
    Column("args", Text),  # JSON
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),  # running, ok, failed, interrupted, dry-run
    Column("summary", Text),  # JSON
)

golden = Table(
    "golden",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("entity", String(64), nullable=False),
    Column("base", Text, nullable=False),  # JSON: canonical values all systems last agreed on
    Column("base_hash", String(32), nullable=False),
    Column("status", String(16), nullable=False, default="active"),  # active, deleted, archived
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # the web app's overview counts active records; serves queries by entity alone too
    Index("ix_golden_entity_status", "entity", "status"),
)

links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("golden_id", String(36), ForeignKey("golden.id"), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("system", String(64), nullable=False),
    Column("native_id", String(255), nullable=False),
    Column("version", String(255)),  # native version last seen or written (for conditional writes)
    Column("record_hash", String(32)),  # canonical hash last seen or written (echo detection)
    Column("seen", Text),  # JSON canonical record last seen or written; sync measures changes against it
    Column("tolerated", Text),  # JSON {field: value}: ownership violations reported but not reverted
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("system", "entity", "native_id", name="uq_links_native"),
    UniqueConstraint("golden_id", "system", name="uq_links_golden_system"),
    # the web app's overview counts links per entity; native_id: a full key whichever index the
    # planner takes without statistics (migration 0010)
    Index("ix_links_entity_system_native", "entity", "system", "native_id"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("entity", String(64), primary_key=True),
    Column("value", Text),  # JSON
    Column("updated_at", DateTime, nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("entity", String(64), primary_key=True),
    Column("native_id", String(255), primary_key=True),
    Column("hash", String(64), nullable=False),
)

changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("system", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("native_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # upsert, delete
    Column("version", String(255)),
    Column("record", Text),  # JSON canonical record (None for deletes)
    Column("source_modified", String(64)),  # the system's own modification time, if any
    Column("captured_at", DateTime, nullable=False),
    Column("processed_at", DateTime),
    Index("ix_changes_pending", "entity", "processed_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("system", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("golden_id", String(36), ForeignKey("golden.id"), nullable=False),
    Column("native_id", String(255)),
    Column("op", String(16), nullable=False),  # create, update, delete, archive
    Column("payload", Text, nullable=False),  # JSON canonical values to write
    Column("base_version", String(255)),
    Column("cause", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, done, failed, superseded
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime),
    Column("last_error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("done_at", DateTime),
    Index("ix_outbox_pending", "system", "status", "id"),
    Index("ix_outbox_golden", "golden_id", "system", "status"),
    Index("ix_outbox_status_entity", "status", "entity"),  # the web app's isolated records per entity
)

# Creates planned in bulk (initial load): the golden ids of one batch sent to ``system``. A batch
# still pending after a crash is expanded into outbox entries, which recovery then resolves.
create_batches = Table(
    "create_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("system", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("golden_ids", Text, nullable=False),  # JSON list
    Column("cause", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, done
    Column("created_at", DateTime, nullable=False),
    Column("done_at", DateTime),
    Index("ix_create_batches_pending", "system", "entity", "status"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity", String(64), nullable=False),
    Column("golden_id", String(36), ForeignKey("golden.id"), nullable=False),
    Column("field", String(64), nullable=False),
    Column("base", Text),  # JSON encoded canonical value
    Column("values", Text, nullable=False),  # JSON {system: encoded value}
    Column("status", String(16), nullable=False),  # open, resolved
    Column("resolution", Text),  # JSON {"take": system} or {"value": encoded}
    Column("reason", Text),  # why the policy held the field (sync)
    Column("created_at", DateTime, nullable=False),
    Column("resolved_at", DateTime),
    Index("ix_conflicts_open", "status", "entity", "golden_id"),
    # the web app's conflict list: open conflicts page by page, by field, by age
    Index("ix_conflicts_status_id", "status", "id"),
    Index("ix_conflicts_status_field", "status", "field"),
)

problems = Table(
    "problems",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("kind", String(32), nullable=False),  # invalid_value, violation, rejected, ambiguous_key
    Column("system", String(64)),
    Column("entity", String(64)),
    Column("native_id", String(255)),
    Column("golden_id", String(36)),
    Column("field", String(64)),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("system", String(64)),
    Column("entity", String(64), nullable=False),
    Column("golden_id", String(36)),
    Column("native_id", String(255)),
    Column("op", String(32), nullable=False),  # create, update, delete, link, decision, resolve
    Column("old", Text),  # JSON
    Column("new", Text),  # JSON
    Column("cause", Text, nullable=False),
    Index("ix_audit_golden", "golden_id"),
    Index("ix_audit_run", "run_id"),
)

# A bulk load audits each created batch in one ``audit`` row (op ``create_batch``, its records in
# ``new``) instead of a row per record; ``journal.audit_log`` expands it. The range of golden ids
# the batch holds finds it when one record's history is asked for.
audit_batches = Table(
    "audit_batches",
    metadata,
    Column("audit_id", Integer, ForeignKey("audit.id"), primary_key=True),
    Column("first_golden", String(36), nullable=False),
    Column("last_golden", String(36), nullable=False),
    Index("ix_audit_batches_golden", "first_golden", "last_golden"),
)

match_exclusions = Table(
    "match_exclusions",
    metadata,
    Column("entity", String(64), primary_key=True),
    Column("key_a", String(255), primary_key=True),
    Column("key_b", String(255), primary_key=True),
    Column("created_at", DateTime, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", DateTime, nullable=False),
    Column("heartbeat_at", DateTime, nullable=False),
    Column("purpose", String(64)),  # the command holding it: sync, load, import ...
    Column("lease_seconds", Integer),  # a holder on another host is gone when silent this long
)

# --- sync engine ---
system_health = Table(
    "system_health",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),  # consecutive failed attempts (circuit breaker)
    Column("open_until", DateTime),  # no calls to the system before this time
    Column("last_error", Text),
    Column("updated_at", DateTime, nullable=False),
)

# --- importer ---
# One row per row of a review file, as the import wrote it: what ``review apply`` takes from the
# store instead of the file (system, entity, candidates and their versions, fingerprints, the
# incoming values); the file contributes only the person's decisions. ``applied_at`` is set in
# the transaction of the row's writes, so a row is applied at most once.
review_rows = Table(
    "review_rows",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),  # the import run
    Column("review_id", String(32), primary_key=True),  # R1, R2, ...
    Column("kind", String(16), nullable=False),  # contact, account
    Column("system", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("golden_id", String(36)),  # the contact the import linked or created (account rows)
    Column("fingerprints", Text, nullable=False),  # JSON list
    Column("candidates", Text, nullable=False),  # JSON [{"native_id", "version"}]
    Column("incoming", Text, nullable=False),  # JSON {field: value as shown}
    Column("created_at", DateTime, nullable=False),
    Column("applied_at", DateTime),
    Column("applied_run_id", Integer, ForeignKey("runs.id")),  # the review run that applied it
    Column("decision", String(16)),  # the decision applied
    Column("details", Text),  # JSON: verdict, score, reasons, sources, candidates' values (what people see)
    Column("assigned_to", String(64)),  # the user to decide it; None: by its source export (web app)
)

# --- service (einklang serve) ---
# Local accounts of the web app and the JSON API. Passwords and tokens are stored as hashes only
# (argon2 for passwords; SHA-256 for random session ids and API tokens, which carry enough entropy).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # admin, steward, viewer
    Column("password_hash", Text),  # None: the user signs in only through a trusted proxy header
    Column("language", String(8)),  # preferred language of pages and mails: de, en
    Column("email", String(255)),  # where notifications for this user go
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the cookie's session id
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("label", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the token
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime),
)

# --- notifications (einklang serve) ---
# Each event a person should hear of (a new conflict, a duplicate to review, an isolated record, a
# system down too long) is reported once per channel: a mark is written in the transaction after
# the digest that carried it was delivered. A failed delivery writes no mark, so it is retried.
notification_marks = Table(
    "notification_marks",
    metadata,
    Column("event_key", String(255), primary_key=True),  # conflict:12, review:7:R3, isolated:40, unreachable:crm:...
    Column("channel", String(255), primary_key=True),  # email:office@example.com, webhook
    Column("sent_at", DateTime, nullable=False),
)

# When each system was first seen unreachable in the current outage (removed when it is back):
# the circuit breaker's row only knows the latest failure, a notification needs the first.
system_outages = Table(
    "system_outages",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("down_since", DateTime, nullable=False),
    Column("last_error", Text),
)

# --- sync workers (several `sync --worker` processes on one PostgreSQL store) ---
# A lease per entity with a fencing token that grows with every new holder (store/leases.py).
worker_leases = Table(
    "worker_leases",
    metadata,
    Column("name", String(128), primary_key=True),  # entity:<entity>
    Column("holder", String(255)),  # the worker id; None when released
    Column("token", BigInteger, nullable=False),  # fencing token
    Column("acquired_at", DateTime, nullable=False),
    Column("heartbeat_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

sync_workers = Table(
    "sync_workers",
    metadata,
    Column("id", String(255), primary_key=True),  # host:pid:token
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("heartbeat_at", DateTime, nullable=False),
    Column("stopped_at", DateTime),
    Column("entities", Text, nullable=False),  # JSON list: the entities it holds leases on
    Column("cycles", Integer, nullable=False),
    Column("last_cycle_at", DateTime),
)
