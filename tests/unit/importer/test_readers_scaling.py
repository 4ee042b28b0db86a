"""Hardening 8: vCard unfolding is linear and binary values (PHOTO, LOGO, SOUND, KEY) are skipped.

No clock: the work of unfolding is measured as bytes allocated (tracemalloc), summed per physical
line, and the memory of reading photos as the tracemalloc peak.
"""

from __future__ import annotations

import base64
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from einklang.importer.incoming import read_file
from einklang.importer.readers import ContactRow, read_contacts, vcard


def _allocated_while_unfolding(lines: list[str]) -> tuple[int, list[tuple[int, str]]]:
    """Bytes allocated and freed again while ``_logical_lines`` consumes ``lines`` (its copying work).

    Before each physical line is handed over, the growth of traced memory since the last one
    (its peak above the level then) is added up: copying the whole text gathered so far for
    every continuation line shows up as a sum that grows with the square of the line count.
    """
    allocated = 0
    base = 0

    def physical() -> Iterator[str]:
        nonlocal allocated, base
        for line in lines:
            _, peak = tracemalloc.get_traced_memory()
            allocated += max(peak - base, 0)
            tracemalloc.reset_peak()
            base, _ = tracemalloc.get_traced_memory()
            yield line

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        result = [(item[0], item[1]) for item in vcard._logical_lines(physical())]
        _, peak = tracemalloc.get_traced_memory()
        allocated += max(peak - base, 0)
    finally:
        tracemalloc.stop()
    return allocated, result


def _folded(head: str, pieces: int, *, soft_breaks: bool = False) -> list[str]:
    chunk = "abcdefghijklmnopqrstuvwxyz0123456789" * 2  # 72 characters
    if soft_breaks:  # vCard 2.1 quoted-printable: "=" ends the line, the next one has no space
        return [f"{head}:{chunk}=\r\n", *(f"{chunk}=\r\n" for _ in range(pieces - 1)), f"{chunk}\r\n"]
    return [f"{head}:{chunk}\r\n", *(f" {chunk}\r\n" for _ in range(pieces))]


def test_unfolding_space_folded_lines_is_linear() -> None:
    for pieces in (1000, 4000):
        lines = ["BEGIN:VCARD\r\n", *_folded("NOTE", pieces), "END:VCARD\r\n"]
        size = sum(len(line) for line in lines)
        allocated, result = _allocated_while_unfolding(lines)
        assert [text[:4] for _, text in result] == ["BEGI", "NOTE", "END:"]
        assert len(result[1][1]) == len("NOTE:") + 72 * (pieces + 1)
        # linear: a few times the input; quadratic copying is ~pieces/2 times the input
        assert allocated < 8 * size, (pieces, allocated, size)


def test_unfolding_quoted_printable_soft_breaks_is_linear() -> None:
    for pieces in (1000, 4000):
        lines = [
            "BEGIN:VCARD\r\n",
            *_folded("NOTE;ENCODING=QUOTED-PRINTABLE", pieces, soft_breaks=True),
            "END:VCARD\r\n",
        ]
        size = sum(len(line) for line in lines)
        allocated, result = _allocated_while_unfolding(lines)
        assert len(result) == 3
        assert len(result[1][1]) == len("NOTE;ENCODING=QUOTED-PRINTABLE:") + 72 * (pieces + 1)
        assert allocated < 8 * size, (pieces, allocated, size)


def _photo_card(name: str, photo_bytes: int, prop: str = "PHOTO;ENCODING=b;TYPE=JPEG") -> str:
    data = base64.b64encode(bytes(range(256)) * (photo_bytes // 256)).decode()
    folded = "\r\n ".join(data[i : i + 74] for i in range(0, len(data), 74))
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:{name};Erika;;;\r\nFN:Erika {name}\r\n"
        f"{prop}:{folded}\r\nEMAIL:{name.lower()}@example.org\r\nEND:VCARD\r\n"
    )


def test_photos_are_skipped_without_holding_them(tmp_path: Path) -> None:
    path = tmp_path / "photos.vcf"
    photo = 600_000
    path.write_text(
        _photo_card("Muster", photo)
        + _photo_card("Beispiel", photo, "LOGO;ENCODING=BASE64;TYPE=PNG")
        + _photo_card("Probe", photo, "PHOTO:data:image/jpeg;base64")  # vCard 4.0 data URI
        + "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Max Link\r\nN:Link;Max;;;\r\nPHOTO:https://example.org/max.jpg\r\n"
        "END:VCARD\r\n",
        encoding="utf-8",
        newline="",
    )
    tracemalloc.start()
    try:
        rows = [item for item in read_contacts(path) if isinstance(item, ContactRow)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [row.fields.get("last_name") for row in rows] == ["Muster", "Beispiel", "Probe", "Link"]
    assert rows[0].fields["email"] == "muster@example.org"
    assert [row.binary_skipped for row in rows] == [1, 1, 1, 0]
    # a photo is 800 kB of base64 text; reading holds none of it (only a physical line at a time)
    assert peak < 400_000, peak

    report, usable = read_file(path)
    assert len(usable) == 4
    assert report.binary_skipped == 3
    assert report.as_dict()["binary_values_skipped"] == 3
    assert not report.problems


def _reference_logical_lines(physical: list[str]) -> list[tuple[int, str]]:
    """The unfolding before Hardening 8 (quadratic, but the meaning the new one must keep)."""

    def is_qp(text: str) -> bool:
        return "QUOTED-PRINTABLE" in text.split(":", 1)[0].upper()

    result: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(physical, start=1):
        line = raw.rstrip("\r\n")
        if pending is not None:
            start, text = pending
            soft = text.endswith("=") and ":" in text and is_qp(text)
            if soft and not line.upper().startswith("END:VCARD"):
                pending = (start, text[:-1] + line)
                continue
            if line[:1] in (" ", "\t"):
                pending = (start, text + line[1:])
                continue
            result.append(pending)
        pending = (number, line)
    if pending is not None:
        result.append(pending)
    return result


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="BEGIN:VCARD;=QP-Nü,\\ \tENCODING=QUOTED-PRINTABLE", max_size=40), max_size=30))
def test_unfolding_means_what_it_meant(lines: list[str]) -> None:
    physical = [line + "\r\n" for line in lines]
    assert [(item.line, item.text) for item in vcard._logical_lines(physical)] == _reference_logical_lines(physical)
