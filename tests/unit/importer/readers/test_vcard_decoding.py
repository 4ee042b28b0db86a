"""vCard decoding per property, on bytes: CHARSET, quoted-printable, folds inside characters, CR CR LF.

Files are built as bytes; a property-based test folds and encodes random values the ways
exporters do and checks they are read back unchanged.
"""

from __future__ import annotations

import quopri
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from einklang.importer.incoming import read_file
from einklang.importer.readers import ContactRow, Problem, read_contacts, sniff_format
from einklang.importer.readers.mojibake import decode_value, has_mojibake, repair_mojibake


def _items(data: bytes, name: str = "c.vcf") -> tuple[list[ContactRow], list[Problem]]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(data)
        items = list(read_contacts(path))
    return [i for i in items if isinstance(i, ContactRow)], [i for i in items if isinstance(i, Problem)]


def _card(*lines: bytes, end: bytes = b"\r\n") -> bytes:
    return end.join([b"BEGIN:VCARD", b"VERSION:2.1", *lines, b"END:VCARD"]) + end


def test_each_card_is_decoded_with_its_own_charset() -> None:
    data = b"".join(
        [
            _card(b"N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen"),
            _card("N:Weiß;Jörg".encode()),  # UTF-8, no CHARSET
            _card("N:Größe;Änne".encode("cp1252")),  # Windows-1252, no CHARSET
            _card(b"N;CHARSET=SHIFT_JIS:" + "山田;太郎".encode("shift_jis")),
            _card(b"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Br=C3=BCning;Michael"),
        ]
    )
    rows, problems = _items(data)
    assert [(r.fields["last_name"], r.fields["first_name"]) for r in rows] == [
        ("Müller", "Jürgen"),
        ("Weiß", "Jörg"),
        ("Größe", "Änne"),
        ("山田", "太郎"),
        ("Brüning", "Michael"),
    ]
    # only the card without CHARSET that is not UTF-8 is mentioned: Windows-1252 was a guess
    assert [(p.row, p.field, p.severity) for p in problems] == [(3, "N", "warning")]
    assert "no CHARSET and not UTF-8: read as Windows-1252" in problems[0].message


def test_a_fold_inside_a_utf8_character_joins_the_bytes_first() -> None:
    # "Jörg Müller" folded after the first byte of "ö" and of "ü", as some servers write
    data = _card(b"VERSION:3.0", b"FN:J\xc3", b" \xb6rg M\xc3", b" \xbcller", b"N:M\xc3\xbcller;J\xc3\xb6rg")
    [row], problems = _items(data)
    assert row.fields["last_name"] == "Müller" and row.fields["first_name"] == "Jörg"
    assert problems == []


def test_ios_cr_cr_lf_line_ends_keep_folds_and_cards_apart() -> None:
    data = _card(
        b"VERSION:3.0", b"N:Gr\xc3\xbcn;Anna", b"NOTE:first", b"  second", b"EMAIL:anna@example.org", end=b"\r\r\n"
    )
    rows, problems = _items(data * 2)
    assert len(rows) == 2 and problems == []
    for row in rows:
        assert row.fields["notes"] == "first second" and row.fields["email"] == "anna@example.org"
        assert row.fields["last_name"] == "Grün"


def test_a_vcf_whose_first_line_is_not_begin_vcard_is_still_a_vcard(tmp_path: Path) -> None:
    path = tmp_path / "export.vcf"
    path.write_bytes(
        b"From: phone@example.org\r\nSubject: contacts\r\n\r\n" + _card(b"N:Lang;Eva", b"EMAIL:eva@example.org")
    )
    report, rows = read_file(path, "export.vcf")
    assert report.format == "vcard-2.1" and report.delimiter is None
    assert [row.values["email"] for row in rows] == ["eva@example.org"]
    assert any("outside BEGIN:VCARD" in p.message for p in report.problems)
    # the same content under another name is told by its BEGIN:VCARD line
    other = tmp_path / "export.txt"
    other.write_bytes(path.read_bytes())
    assert sniff_format(other, "export.txt") == "vcard"


def test_type_lists_are_split_so_a_fax_is_not_the_phone() -> None:
    data = _card(
        b"N:Fax;Frieda", b"TEL;FAX,WORK:+49 30 1111111", b"TEL;TYPE=FAX,WORK:+49 30 2222222", b"TEL;WORK:+49 30 3333333"
    )
    [row], _ = _items(data)
    assert row.fields["phone"] == "+49 30 3333333"
    assert row.fields["fax"] == "+49 30 1111111" and "phone2" not in row.fields


def test_a_given_name_alone_is_not_copied_into_the_last_name() -> None:
    [row], _ = _items(_card(b"N:;Hans;;;", b"FN:Hans"))
    assert row.fields == {"first_name": "Hans"}
    [row], _ = _items(_card(b"N:;Hans;;;", b"FN:Hans Meier"))
    assert row.fields == {"first_name": "Hans", "last_name": "Meier"}


def test_birthdays_with_time_and_without_year() -> None:
    data = b"".join(
        [
            _card(b"N:A;A", b"BDAY:1980-03-22T00:00:00Z"),
            _card(b"N:B;B", b"BDAY:--0415"),
            _card(b"N:C;C", b"BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15"),
            _card(b"N:D;D", b"BDAY:16040101"),
        ]
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "b.vcf"
        path.write_bytes(data)
        _report, rows = read_file(path)
    assert [row.values["birthday"] for row in rows] == ["1980-03-22", "--04-15", "--04-15", "--01-01"]


def test_mojibake_is_repaired_or_reported() -> None:
    repaired = _card("N:MÃ¼ller;JÃ¶rg".encode())  # UTF-8 that was read as cp1252 and saved again
    unrepairable = _card(b"N;CHARSET=UTF-8:Kr\xc3\xa4mer;Ute", b"ORG;ENCODING=QUOTED-PRINTABLE:=C3=91=C3=91=80")
    rows, problems = _items(repaired + unrepairable)
    assert rows[0].fields["last_name"] == "Müller" and rows[0].fields["first_name"] == "Jörg"
    assert rows[1].fields["last_name"] == "Krämer"
    assert [(p.row, p.field, p.severity) for p in problems] == [(1, "N", "warning"), (2, "ORG", "warning")]
    assert "repaired" in problems[0].message and "cannot be repaired" in problems[1].message


def test_decode_value_says_what_needed_care() -> None:
    assert decode_value("Müller".encode(), []) == ("Müller", None)
    # no CHARSET and not UTF-8: Windows-1252 is a guess, and said to be one
    text, note = decode_value("Müller".encode("cp1252"), [])
    assert text == "Müller" and note is not None and "read as Windows-1252" in note
    assert decode_value("Müller".encode("cp1252"), ["windows-1252"]) == ("Müller", None)
    text, note = decode_value(b"M\xfcller", ["x-unknown"])
    assert text == "Müller" and note is not None and "unknown CHARSET" in note
    text, note = decode_value("Müller".encode("cp1252"), ["UTF-8"])
    assert text == "Müller" and note is not None and "not valid UTF-8" in note
    assert repair_mojibake("Stra\u00c3\u0178e") == "Straße" and repair_mojibake("Straße") is None
    assert has_mojibake("â€ž") and not has_mojibake("„Zitat“")


_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters=";,\\:\u0085"),
    min_size=1,
    max_size=60,
).filter(lambda value: value.strip() == value and value.strip() and not has_mojibake(value))
# Text that itself looks like mojibake ("Â¡") is repaired with a warning -- a deliberate trade-off
# (such pairs are next to never meant), so it is left out of the round trip.


@settings(max_examples=150, deadline=None)
@given(_TEXT, st.integers(min_value=1, max_value=40), st.sampled_from(["\r\n", "\n", "\r\r\n"]))
def test_folding_at_any_byte_reads_back_the_value(note: str, width: int, end: str) -> None:
    """Folded every ``width`` bytes, even inside a character, the value comes back unchanged."""
    line = b"NOTE:" + note.encode()
    pieces = [line[i : i + width] for i in range(0, len(line), width)]
    folded = (end.encode() + b" ").join(pieces)
    [row], problems = _items(_card(b"VERSION:3.0", b"N:X;Y", folded, end=end.encode()))
    assert row.fields["notes"] == note
    assert not [p for p in problems if p.field == "NOTE"]


@settings(max_examples=150, deadline=None)
@given(_TEXT, st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "shift_jis"]))
def test_quoted_printable_with_charset_reads_back_the_value(note: str, charset: str) -> None:
    """QUOTED-PRINTABLE with soft line breaks and a CHARSET, as vCard 2.1 exporters write it."""
    try:
        raw = note.encode(charset)
    except UnicodeEncodeError:
        raw = b""
    if raw.decode(charset, errors="replace") != note:
        # the charset cannot hold the text (or not reversibly: Shift_JIS writes "¥" as the byte
        # of "\"), so no exporter could write it that way
        raw = note.encode("utf-8")
        charset = "utf-8"
    encoded = quopri.encodestring(raw).replace(b"=\n", b"=\r\n").replace(b"\n", b"\r\n").rstrip(b"\r\n")
    head = f"NOTE;CHARSET={charset};ENCODING=QUOTED-PRINTABLE:".encode()
    [row], _problems = _items(_card(b"N:X;Y", head + encoded))
    assert row.fields["notes"] == note


def test_numbers_and_addresses_beyond_the_fields_are_reported_not_dropped(tmp_path: Path) -> None:
    card = _card(
        b"N:Viel;Telefon",
        b"TEL;CELL:0171 1111111",
        b"TEL;CELL:0172 2222222",
        b"TEL;WORK:030 1111111",
        b"TEL;WORK:030 2222222",
        b"TEL;HOME:030 3333333",
        b"TEL;HOME:030 4444444",
        b"TEL;HOME:030 5555555",
        b"TEL;HOME:030 6666666",
        b"EMAIL:a@viel.example",
        b"EMAIL:b@viel.example",
        b"EMAIL:c@viel.example",
        b"EMAIL:d@viel.example",
    )
    path = tmp_path / "viel.vcf"
    path.write_bytes(card)
    report, [row] = read_file(path, "viel.vcf")
    assert row.values["mobile"] == "+491711111111"
    assert (row.values["phone"], row.values["phone2"]) == ("+49301111111", "+49302222222")
    not_kept = sorted(p.value or "" for p in report.problems if p.message.startswith("phone number"))
    assert not_kept == ["0172 2222222", "030 3333333", "030 4444444", "030 5555555", "030 6666666"]
    assert [row.values[f] for f in ("email", "email2", "email3")] == [
        "a@viel.example",
        "b@viel.example",
        "c@viel.example",
    ]
    assert [p.value for p in report.problems if p.field == "email3"] == ["d@viel.example"]
