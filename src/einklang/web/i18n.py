"""The web app's words in German and English: one catalogue for pages, messages and the API's texts.

Pages are written in English and every text goes through :func:`translator`; ``GERMAN`` holds the
German wording of each (a unit test checks that every text the templates and views use has
one). The language comes from the user's setting, else the language cookie, else the browser's
``Accept-Language``; English when none of them names a language the app speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "en"

GERMAN: dict[str, str] = {
    # navigation, frame
    "Overview": "Übersicht",
    "Conflicts": "Konflikte",
    "Duplicate review": "Dublettenprüfung",
    "Records": "Datensätze",
    "Runs": "Läufe",
    "Sign in": "Anmelden",
    "Users": "Benutzer",
    "Role": "Rolle",
    "Remove": "Entfernen",
    "Add user": "Benutzer anlegen",
    "User {name} added.": "Benutzer {name} angelegt.",
    "User {name} removed.": "Benutzer {name} entfernt.",
    "You cannot remove yourself.": "Sie können sich nicht selbst entfernen.",
    "Passwords and API tokens: einklang users passwd NAME, einklang users token NAME.": (
        "Passwörter und API-Tokens: einklang users passwd NAME, einklang users token NAME."
    ),
    "Sign out": "Abmelden",
    # sync workers (serve --worker, sync --worker)
    "Sync workers": "Sync-Worker",
    "Worker": "Worker",
    "Last heartbeat": "Letztes Lebenszeichen",
    "Leased entities (fencing token)": "Gepachtete Entitäten (Fencing-Token)",
    "{seconds} s ago": "vor {seconds} s",
    "Cycles": "Abgleiche",
    "User name": "Benutzername",
    "Password": "Passwort",
    "Signed in as {name} ({role})": "Angemeldet als {name} ({role})",
    "viewer": "Betrachter",
    "steward": "Sachbearbeiter",
    "admin": "Administrator",
    "Language": "Sprache",
    "The user name or the password is wrong.": "Benutzername oder Passwort ist falsch.",
    "Too many failed sign-ins: try again in {minutes} minutes.": (
        "Zu viele fehlgeschlagene Anmeldungen: in {minutes} Minuten erneut versuchen."
    ),
    "The form has expired or did not come from this page: load the page again and repeat.": (
        "Das Formular ist abgelaufen oder stammt nicht von dieser Seite: Seite neu laden und wiederholen."
    ),
    "Your role may not do this ({role} needed).": "Ihre Rolle darf das nicht (nötig: {role}).",
    "Not found.": "Nicht gefunden.",
    "Back": "Zurück",
    "Filter": "Filtern",
    "all": "alle",
    "none": "keine",
    "yes": "ja",
    "no": "nein",
    "(empty)": "(leer)",
    "Page {page} of {pages}": "Seite {page} von {pages}",
    "previous": "zurück",
    "next": "weiter",
    # overview
    "Systems": "Systeme",
    "System": "System",
    "Reachable": "Erreichbar",
    "unreachable": "nicht erreichbar",
    "reachable": "erreichbar",
    "not contacted yet": "noch nicht kontaktiert",
    "Last successful cycle": "Letzter erfolgreicher Lauf",
    "Waiting in the outbox": "Wartet im Postausgang",
    "Circuit breaker": "Schutzschalter",
    "closed": "geschlossen",
    "open until {time}": "offen bis {time}",
    "Entities": "Entitäten",
    "Entity": "Entität",
    "Linked records": "Verknüpfte Datensätze",
    "Open conflicts": "Offene Konflikte",
    "Possible duplicates": "Mögliche Dubletten",
    "Isolated records": "Isolierte Datensätze",
    "Last cycles": "Letzte Abgleiche",
    "Started": "Gestartet",
    "Status": "Status",
    "What it did": "Was geschah",
    "Schedule": "Zeitplan",
    "every {seconds} s": "alle {seconds} s",
    "running": "läuft",
    "Next": "Nächster",
    "Interval": "Intervall",
    "Last outcome": "Letztes Ergebnis",
    "Run a sync cycle now": "Jetzt abgleichen",
    "A sync cycle has been started.": "Ein Abgleich wurde gestartet.",
    "A sync cycle is already running.": "Ein Abgleich läuft bereits.",
    "No scheduler runs in this process: cycles start only on request.": (
        "In diesem Prozess läuft kein Zeitplan: Abgleiche starten nur auf Anforderung."
    ),
    "never": "nie",
    "nothing changed": "nichts geändert",
    "Updated {time}": "Stand {time}",
    # conflicts
    "Field": "Feld",
    "Record": "Datensatz",
    "Last agreed": "Zuletzt übereinstimmend",
    "Now in the systems": "Jetzt in den Systemen",
    "Since": "Seit",
    "Older than (days)": "Älter als (Tage)",
    "No open conflicts.": "Keine offenen Konflikte.",
    "Decide": "Entscheiden",
    "Conflict {id}": "Konflikt {id}",
    "Value in {system}": "Wert in {system}",
    "Take the value of {system}": "Wert von {system} übernehmen",
    "Enter a value": "Wert eingeben",
    "Apply to all conflicts like this ({count} more: same field, same values)": (
        "Auf alle gleichartigen Konflikte anwenden ({count} weitere: gleiches Feld, gleiche Werte)"
    ),
    "Why it was held": "Warum angehalten",
    "Fields not in conflict": "Felder ohne Konflikt",
    "Decision saved: the next sync cycle writes it to every system.": (
        "Entscheidung gespeichert: der nächste Abgleich schreibt sie in alle Systeme."
    ),
    "{count} conflicts decided.": "{count} Konflikte entschieden.",
    "This conflict was already decided or has changed: nothing was applied. Its current state is shown below.": (
        "Dieser Konflikt wurde inzwischen entschieden oder hat sich geändert: nichts wurde übernommen. "
        "Der aktuelle Stand steht unten."
    ),
    "Decision": "Entscheidung",
    "decided": "entschieden",
    "resolved": "erledigt",
    "open": "offen",
    # reviews
    "Import run": "Importlauf",
    "Score": "Ähnlichkeit",
    "Reasons": "Gründe",
    "Sources": "Quellen",
    "Candidate {number}": "Kandidat {number}",
    "Incoming": "Import",
    "Merged record (preview)": "Zusammengeführter Datensatz (Vorschau)",
    "merge": "zusammenführen",
    "create": "neu anlegen",
    "skip": "überspringen",
    "not-duplicate": "kein Duplikat",
    "Keep": "Behalten",
    "existing": "vorhanden",
    "incoming": "Import",
    "fill if empty": "füllen wenn leer",
    "Merge into": "Zusammenführen mit",
    "Decide and next": "Entscheiden und weiter",
    "Assigned to": "Zugewiesen an",
    "Assign": "Zuweisen",
    "Rows to decide": "Zu entscheidende Zeilen",
    "Mine": "Meine",
    "All": "Alle",
    "No rows waiting for a decision.": "Keine Zeilen warten auf eine Entscheidung.",
    "Row {id} of import run {run}": "Zeile {id} aus Importlauf {run}",
    "Row decided ({decision}).": "Zeile entschieden ({decision}).",
    "The row could not be applied: {reason}": "Die Zeile konnte nicht übernommen werden: {reason}",
    "This row was already decided.": "Diese Zeile wurde bereits entschieden.",
    "The candidates' current values could not be read: {reason}. Shown are the values of the import.": (
        "Die aktuellen Werte der Kandidaten konnten nicht gelesen werden: {reason}. Gezeigt sind die Werte des Imports."
    ),
    "Kind": "Art",
    "contact": "Kontakt",
    "account": "Firma",
    # records
    "Search by name, number or e-mail": "Suche nach Name, Nummer oder E-Mail",
    "Search": "Suchen",
    "No record found.": "Kein Datensatz gefunden.",
    "Agreed values": "Abgestimmte Werte",
    "Links": "Verknüpfungen",
    "Id in the system": "ID im System",
    "History": "Verlauf",
    "When": "Wann",
    "Change": "Änderung",
    "Cause": "Ursache",
    "Error": "Fehler",
    "Retry": "Erneut versuchen",
    "The write is queued again: the next sync cycle tries it.": (
        "Der Schreibvorgang steht wieder an: der nächste Abgleich versucht ihn."
    ),
    "Writes that failed for good": "Endgültig fehlgeschlagene Schreibvorgänge",
    # runs
    "sync": "Abgleich",
    "import": "Import",
    "load": "Erstbefüllung",
    "review": "Prüfung",
    "undo": "Rücknahme",
    "relink": "Neuverknüpfung",
    "ok": "ok",
    "failed": "fehlgeschlagen",
    "partial": "teilweise",
    "undone": "rückgängig gemacht",
    "interrupted": "unterbrochen",
    "dry-run": "Probelauf",
    "Run": "Lauf",
    "Kind of run": "Art des Laufs",
    "Finished": "Beendet",
    "Numbers": "Zahlen",
    "Undo": "Rückgängig machen",
    "Undo run {id}?": "Lauf {id} rückgängig machen?",
    "This will revert:": "Das wird zurückgenommen:",
    "{deleted} records deleted, {restored} restored, {unlinked} unlinked, {decisions} decisions reverted": (
        "{deleted} Datensätze gelöscht, {restored} wiederhergestellt, {unlinked} Verknüpfungen gelöst, "
        "{decisions} Entscheidungen zurückgenommen"
    ),
    "undo: create": "wird gelöscht",
    "undo: update": "alter Wert zurück",
    "undo: link": "Verknüpfung wird gelöst",
    "undo: decision": "Entscheidung wird zurückgenommen",
    "Yes, undo run {id}": "Ja, Lauf {id} rückgängig machen",
    "Run {id} undone: {summary}": "Lauf {id} rückgängig gemacht: {summary}",
    "The undo failed: {reason}": "Das Rückgängigmachen schlug fehl: {reason}",
    "Another einklang process is writing; try again in a moment ({reason}).": (
        "Ein anderer einklang-Prozess schreibt gerade; bitte gleich erneut versuchen ({reason})."
    ),
}


ENGLISH: dict[str, str] = {
    # texts named by a key rather than written out in English
    "undo: create": "is deleted",
    "undo: update": "old values back",
    "undo: link": "link removed",
    "undo: decision": "decision reverted",
}

CYCLE_PARTS: tuple[tuple[str, str], ...] = (
    ("captured", "{n} change(s) read"),
    ("echoes", "{n} own write(s) read back"),
    ("applied", "{n} update(s) written"),
    ("created", "{n} record(s) created"),
    ("deleted", "{n} deleted/archived"),
    ("linked", "{n} linked"),
    ("conflicts", "{n} new conflict(s)"),
    ("violations", "{n} ownership violation(s)"),
    ("resolved", "{n} decision(s) applied"),
    ("stale", "{n} write(s) re-planned"),
    ("failed", "{n} write(s) failed"),
)
GERMAN.update(
    {
        "{n} change(s) read": "{n} Änderung(en) gelesen",
        "{n} own write(s) read back": "{n} eigene Schreibvorgänge zurückgelesen",
        "{n} update(s) written": "{n} Aktualisierung(en) geschrieben",
        "{n} record(s) created": "{n} Datensätze angelegt",
        "{n} deleted/archived": "{n} gelöscht/archiviert",
        "{n} linked": "{n} verknüpft",
        "{n} new conflict(s)": "{n} neue(r) Konflikt(e)",
        "{n} ownership violation(s)": "{n} Verstöße gegen die Feldhoheit",
        "{n} decision(s) applied": "{n} Entscheidung(en) übernommen",
        "{n} write(s) re-planned": "{n} Schreibvorgänge neu geplant",
        "{n} write(s) failed": "{n} Schreibvorgänge fehlgeschlagen",
    }
)


def cycle_text(report: dict[str, Any], t: Callable[..., str]) -> str:
    """What one entity's part of a cycle did, in the reader's language; zero counts left out."""
    parts = [t(text, n=report[key]) for key, text in CYCLE_PARTS if isinstance(report.get(key), int) and report[key]]
    return ", ".join(parts) or t("nothing changed")


def negotiate(accept_language: str | None) -> str:
    """The first language of an ``Accept-Language`` header the app speaks (quality order)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        quality = 1.0
        for piece in pieces[1:]:
            key, _, value = piece.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, index, tag.split("-")[0]))
    for negative_quality, _, language in sorted(ranked):
        if negative_quality < 0 and language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


def choose_language(user_setting: str | None, cookie: str | None, accept_language: str | None) -> str:
    for candidate in (user_setting, cookie):
        if candidate in LANGUAGES:
            return str(candidate)
    return negotiate(accept_language)


Translator = Callable[..., str]


def translator(language: str) -> Translator:
    """``t(text, **values)``: the text in ``language`` with ``{name}`` places filled in."""
    table = GERMAN if language == "de" else ENGLISH

    def translate(text: str, **values: Any) -> str:
        wording = table.get(text, text)
        return wording.format(**values) if values else wording

    return translate
