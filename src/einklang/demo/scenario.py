"""Build the demo: a German ERP database, an empty English CRM database and einklang.yaml."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from einklang.demo import data

ERP_SCHEMA = [
    """CREATE TABLE kunden (
        kundennr     VARCHAR(10) PRIMARY KEY,
        name1        VARCHAR(80) NOT NULL,
        name2        VARCHAR(80),
        strasse      VARCHAR(80),
        plz          VARCHAR(10),
        ort          VARCHAR(60),
        land         VARCHAR(40),
        telefon      VARCHAR(40),
        email        VARCHAR(120),
        aktiv        BOOLEAN NOT NULL DEFAULT 1,
        betreuer     VARCHAR(10) REFERENCES mitarbeiter(persnr),
        geaendert_am TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    # the ERP keeps its own modification time; einklang reads changes by it
    """CREATE TRIGGER kunden_geaendert AFTER UPDATE ON kunden FOR EACH ROW
       WHEN NEW.geaendert_am = OLD.geaendert_am
       BEGIN
         UPDATE kunden SET geaendert_am = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE kundennr = NEW.kundennr;
       END""",
    """CREATE TABLE warengruppen (
        nr           VARCHAR(10) PRIMARY KEY,
        bezeichnung  VARCHAR(80) NOT NULL,
        geaendert_am TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    """CREATE TRIGGER warengruppen_geaendert_am AFTER UPDATE ON warengruppen FOR EACH ROW
       WHEN NEW.geaendert_am = OLD.geaendert_am
       BEGIN
         UPDATE warengruppen SET geaendert_am = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE nr = NEW.nr;
       END""",
    """CREATE TABLE artikel (
        artnr        VARCHAR(10) PRIMARY KEY,
        bezeichnung  VARCHAR(120) NOT NULL,
        beschreibung TEXT,
        warengruppe  VARCHAR(10) REFERENCES warengruppen(nr),
        preis        NUMERIC(10, 2),
        waehrung     VARCHAR(3) NOT NULL DEFAULT 'EUR',
        einheit      VARCHAR(10) NOT NULL DEFAULT 'Stk',
        aktiv        BOOLEAN NOT NULL DEFAULT 1,
        geaendert_am TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    """CREATE TRIGGER artikel_geaendert_am AFTER UPDATE ON artikel FOR EACH ROW
       WHEN NEW.geaendert_am = OLD.geaendert_am
       BEGIN
         UPDATE artikel SET geaendert_am = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE artnr = NEW.artnr;
       END""",
    """CREATE TABLE mitarbeiter (
        persnr       VARCHAR(10) PRIMARY KEY,
        vorname      VARCHAR(60),
        nachname     VARCHAR(60),
        email        VARCHAR(120),
        telefon      VARCHAR(40),
        abteilung    VARCHAR(60),
        position     VARCHAR(80),
        aktiv        BOOLEAN NOT NULL DEFAULT 1,
        austritt     DATE,
        geaendert_am TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    """CREATE TRIGGER mitarbeiter_geaendert_am AFTER UPDATE ON mitarbeiter FOR EACH ROW
       WHEN NEW.geaendert_am = OLD.geaendert_am
       BEGIN
         UPDATE mitarbeiter SET geaendert_am = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE persnr = NEW.persnr;
       END""",
]

CRM_SCHEMA = [
    """CREATE TABLE product_groups (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        code         VARCHAR(20),
        name         VARCHAR(80) NOT NULL,
        einklang_id  VARCHAR(36),
        updated_at   TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    """CREATE TRIGGER product_groups_updated_at AFTER UPDATE ON product_groups FOR EACH ROW
       WHEN NEW.updated_at = OLD.updated_at
       BEGIN
         UPDATE product_groups SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id;
       END""",
    """CREATE TABLE products (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        sku          VARCHAR(20),
        name         VARCHAR(120) NOT NULL,
        description  TEXT,
        group_id     INTEGER REFERENCES product_groups(id),
        price        NUMERIC(10, 2),
        currency     VARCHAR(3),
        unit         VARCHAR(10),
        is_active    BOOLEAN NOT NULL DEFAULT 1,
        einklang_id  VARCHAR(36),
        updated_at   TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    """CREATE TRIGGER products_updated_at AFTER UPDATE ON products FOR EACH ROW
       WHEN NEW.updated_at = OLD.updated_at
       BEGIN
         UPDATE products SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id;
       END""",
    """CREATE TABLE users (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        employee_no  VARCHAR(20),
        first_name   VARCHAR(60),
        last_name    VARCHAR(60),
        email        VARCHAR(120),
        phone        VARCHAR(40),
        department   VARCHAR(60),
        job_title    VARCHAR(80),
        is_active    BOOLEAN NOT NULL DEFAULT 1,
        left_on      DATE,
        einklang_id  VARCHAR(36),
        updated_at   TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    """CREATE TRIGGER users_updated_at AFTER UPDATE ON users FOR EACH ROW
       WHEN NEW.updated_at = OLD.updated_at
       BEGIN
         UPDATE users SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id;
       END""",
    """CREATE TABLE accounts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        external_id  VARCHAR(20),
        name         VARCHAR(160) NOT NULL,
        address_line VARCHAR(120),
        postcode     VARCHAR(10),
        city         VARCHAR(60),
        country      VARCHAR(2),
        phone        VARCHAR(40),
        email        VARCHAR(120),
        is_active    BOOLEAN NOT NULL DEFAULT 1,
        owner_id     INTEGER REFERENCES users(id),
        einklang_id  VARCHAR(36),
        created_at   TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
        updated_at   TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    """CREATE TRIGGER accounts_updated AFTER UPDATE ON accounts FOR EACH ROW
       WHEN NEW.updated_at = OLD.updated_at
       BEGIN
         UPDATE accounts SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id;
       END""",
    "CREATE INDEX ix_accounts_einklang_id ON accounts (einklang_id)",
    """CREATE TABLE contacts (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id   INTEGER REFERENCES accounts(id),
        first_name   VARCHAR(60),
        last_name    VARCHAR(60),
        title        VARCHAR(40),
        position     VARCHAR(80),
        email        VARCHAR(120),
        phone        VARCHAR(40),
        mobile       VARCHAR(40),
        street       VARCHAR(120),
        postcode     VARCHAR(10),
        city         VARCHAR(60),
        country      VARCHAR(2),
        company      VARCHAR(160),
        einklang_id  VARCHAR(36),
        updated_at   TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
    )""",
    """CREATE TRIGGER contacts_updated AFTER UPDATE ON contacts FOR EACH ROW
       WHEN NEW.updated_at = OLD.updated_at
       BEGIN
         UPDATE contacts SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id;
       END""",
]

CONTACT_ENTITY_YAML = """\
  contact:                              # persons; imported from Outlook exports into the CRM
    fields:
      first_name: str
      last_name: str
      title: str
      position: str
      company: str
      street: str
      postal_code: str
      city: str
      country: country
      phone: phone
      mobile: phone
      email: email
      account_id: str                   # the CRM account the contact belongs to (filled by the import)
    systems:
      crm:
        table: contacts
        id: id
        changed: updated_at
        correlation: einklang_id
        map:
          first_name: first_name
          last_name: last_name
          title: title
          position: position
          company: company
          street: street
          postal_code: postcode
          city: city
          country: country
          phone: phone
          mobile: mobile
          email: email
          account_id: account_id
"""

DEMO_CONFIG = """\
# einklang demo: a German ERP (SQLite) and an English CRM (SQLite).
# Secrets would come from the environment, e.g.  password: ${ERP_DB_PASSWORD}
state: sqlite:///einklang.db
default_region: DE

systems:
  erp:
    connector: sql
    url: sqlite:///erp.db
  crm:
    connector: sql
    url: sqlite:///crm.db

entities:
  company:
    keys: [customer_number, email]      # exact link keys, tried in order
    match: {spec: company}              # then the fuzzy matcher: sure -> link, possible -> review
    fields:
      customer_number: {type: str, required: true}
      name: {type: str, required: true}
      street: str
      postal_code: str
      city: str
      country: country                  # ISO 3166 alpha-2
      phone: phone                      # E.164
      email: email
      account_manager: {type: ref, entity: employee}   # the employee who looks after the customer
    systems:
      erp:
        table: kunden
        id: kundennr
        changed: geaendert_am
        map:
          customer_number: kundennr
          name: {join: [name1, name2], sep: " "}
          street: strasse
          postal_code: plz
          city: ort
          country: {column: land, values: {Deutschland: DE, Österreich: AT, Schweiz: CH}}
          phone: telefon
          email: email
          account_manager: betreuer     # a foreign key: the employee's personnel number
      crm:
        table: accounts
        id: id
        changed: updated_at
        correlation: einklang_id
        map:
          customer_number: external_id
          name: name
          street: address_line
          postal_code: postcode
          city: city
          country: country
          phone: phone
          email: email
          account_manager: owner_id     # a foreign key: the CRM user's id
    sync:
      conflicts: manual
      fields:
        customer_number: {owner: erp}
        street: {owner: erp, on_violation: revert}
        email: {leader: crm}
      deletes: archive
"""


PRODUCT_ENTITIES_YAML = """\
  product_group:                        # the ERP owns products, groups and employees
    keys: [number]
    fields: {number: {type: str, required: true}, name: str}
    systems:
      erp: {table: warengruppen, id: nr, changed: geaendert_am, map: {number: nr, name: bezeichnung}}
      crm:
        table: product_groups
        id: id
        changed: updated_at
        correlation: einklang_id
        map: {number: code, name: name}
    sync: {conflicts: {leader: erp}}
  product:
    keys: [number]
    fields:
      number: {type: str, required: true}
      name: str
      description: text
      group: {type: ref, entity: product_group}   # golden id; each system holds its own form
      list_price: decimal
      currency: str
      unit: str
      active: bool
    systems:
      erp:
        table: artikel
        id: artnr
        changed: geaendert_am
        map: {number: artnr, name: bezeichnung, description: beschreibung, group: warengruppe,
              list_price: preis, currency: waehrung, unit: einheit, active: aktiv}
      crm:
        table: products
        id: id
        changed: updated_at
        correlation: einklang_id
        map: {number: sku, name: name, description: description, group: group_id,
              list_price: price, currency: currency, unit: unit, active: is_active}
    sync: {conflicts: {leader: erp}}
  employee:
    keys: [personnel_number]
    fields:
      personnel_number: {type: str, required: true}
      first_name: str
      last_name: str
      email: email
      phone: phone
      department: str
      position: str
      active: bool
      exit_date: date
    systems:
      erp:
        table: mitarbeiter
        id: persnr
        changed: geaendert_am
        map: {personnel_number: persnr, first_name: vorname, last_name: nachname, email: email,
              phone: telefon, department: abteilung, position: position, active: aktiv, exit_date: austritt}
      crm:
        table: users
        id: id
        changed: updated_at
        correlation: einklang_id
        archive: {column: is_active, value: false}   # leaving: deactivated, never deleted
        map: {personnel_number: employee_no, first_name: first_name, last_name: last_name, email: email,
              phone: phone, department: department, position: job_title, active: is_active,
              exit_date: left_on}
    sync:
      conflicts: {leader: erp}
      deletes: archive
"""


def build_erp(path: Path, customer_count: int = 300) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for statement in ERP_SCHEMA:
            conn.exec_driver_sql(statement)
        conn.execute(
            sa.text(
                "INSERT INTO kunden (kundennr, name1, name2, strasse, plz, ort, land, telefon, email) "
                "VALUES (:number, :name1, :name2, :street, :postal_code, :city, :country, :phone, :email)"
            ),
            [c.__dict__ for c in data.customers(customer_count)],
        )
        conn.execute(
            sa.text("INSERT INTO warengruppen (nr, bezeichnung) VALUES (:nr, :name)"),
            [{"nr": nr, "name": name} for nr, name in data.PRODUCT_GROUPS],
        )
        conn.execute(
            sa.text(
                "INSERT INTO artikel (artnr, bezeichnung, beschreibung, warengruppe, preis) "
                "VALUES (:number, :name, :description, :group, :price)"
            ),
            [p.__dict__ for p in data.products()],
        )
        conn.execute(
            sa.text(
                "INSERT INTO mitarbeiter (persnr, vorname, nachname, email, telefon, abteilung, position) "
                "VALUES (:number, :first_name, :last_name, :email, :phone, :department, :position)"
            ),
            [e.__dict__ for e in data.employees()],
        )
    engine.dispose()


def build_crm(path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for statement in CRM_SCHEMA:
            conn.exec_driver_sql(statement)
    engine.dispose()


MARKER = ".einklang-demo"
"""A file that marks a folder as the demo's own: only such a folder is re-created without --force."""


class DemoFolderError(Exception):
    """The folder given with --dir cannot be used for the demo as it is."""


def prepare_folder(directory: Path, force: bool = False) -> None:
    """Make ``directory`` the demo's folder: new, empty, an earlier demo's, or ``force``d."""
    if directory.exists() and not directory.is_dir():
        raise DemoFolderError(f"{directory} is a file, not a folder")
    if directory.exists() and not force and not (directory / MARKER).is_file() and any(directory.iterdir()):
        raise DemoFolderError(
            f"{directory} is not empty and not an earlier demo's folder: the demo would replace "
            "databases and einklang.yaml there. Choose a new or empty folder, or add --force"
        )
    directory.mkdir(parents=True, exist_ok=True)
    inside(directory, MARKER).write_text("einklang demo folder: `einklang demo` may re-create it\n", encoding="utf-8")


def inside(directory: Path, *parts: str) -> Path:
    """``directory / parts``, refusing a link that leads out of the demo folder (it is never followed)."""
    current = directory
    for part in Path(*parts).parts:
        current = current / part
        if current.is_symlink():
            raise DemoFolderError(f"{current} is a symbolic link; the demo does not write through links")
    return current


def build(directory: Path, customer_count: int = 300, force: bool = False) -> Path:
    """Create (or re-create) the demo folder; return the path of its einklang.yaml."""
    prepare_folder(directory, force)
    for name in ("erp.db", "crm.db", "einklang.db", "einklang.db-wal", "einklang.db-shm"):
        inside(directory, name).unlink(missing_ok=True)
    build_erp(inside(directory, "erp.db"), customer_count)
    build_crm(inside(directory, "crm.db"))
    config_path = inside(directory, "einklang.yaml")
    config_path.write_text(DEMO_CONFIG + PRODUCT_ENTITIES_YAML + CONTACT_ENTITY_YAML, encoding="utf-8")
    return config_path
