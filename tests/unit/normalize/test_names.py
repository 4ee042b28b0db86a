import pytest
from hypothesis import given
from hypothesis import strategies as st

from einklang.normalize import (
    InvalidValue,
    PersonName,
    join_person_name,
    name_key,
    normalize_salutation,
    parse_person_name,
    split_full_name,
    split_name_prefix,
)


def test_title_first_particle_last() -> None:
    assert parse_person_name("Dr. Hans-Peter von Müller") == PersonName(
        title="Dr.", first="Hans-Peter", particle="von", last="Müller"
    )


def test_last_comma_first() -> None:
    assert parse_person_name("Müller, Hans") == PersonName(first="Hans", last="Müller")


def test_last_comma_first_with_particle_and_title() -> None:
    assert parse_person_name("von der Heide, Dr. Anna") == PersonName(
        title="Dr.", first="Anna", particle="von der", last="Heide"
    )


def test_salutation_compound_titles_and_middle_name() -> None:
    assert parse_person_name("Herr Prof. Dr. med. Karl Heinz Schmidt") == PersonName(
        salutation="Herr", title="Prof. Dr. med.", first="Karl", middle="Heinz", last="Schmidt"
    )


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Dipl.-Ing. Petra Meier", "Dipl.-Ing."),
        ("Dr.-Ing. Klaus Weber", "Dr.-Ing."),
        ("Dr. med. Eva Braun", "Dr. med."),
        ("Dr. rer. nat. Eva Braun", "Dr. rer. nat."),
        ("Prof. Dr. Eva Braun", "Prof. Dr."),
        ("Mag. Eva Braun", "Mag."),
    ],
)
def test_titles(raw: str, title: str) -> None:
    name = parse_person_name(raw)
    assert name.title == title
    assert f"{name.first} {name.last}" == raw.removeprefix(title).strip()


def test_first_name_that_starts_like_a_title_is_not_one() -> None:
    assert parse_person_name("Drew Barrymore") == PersonName(first="Drew", last="Barrymore")


@pytest.mark.parametrize(
    ("raw", "particle", "last"),
    [
        ("Karl-Theodor zu Guttenberg", "zu", "Guttenberg"),
        ("Karl-Theodor von und zu Guttenberg", "von und zu", "Guttenberg"),
        ("Ludwig van der Berg", "van der", "Berg"),
        ("Anna de la Cruz", "de la", "Cruz"),
        ("Müller, Hans von", "von", "Müller"),
    ],
)
def test_particles(raw: str, particle: str, last: str) -> None:
    name = parse_person_name(raw)
    assert (name.particle, name.last) == (particle, last)


def test_a_particle_word_at_the_end_is_the_last_name() -> None:
    assert parse_person_name("Anna Le") == PersonName(first="Anna", last="Le")


@pytest.mark.parametrize("raw", ["Hans Müller Jr.", "Müller, Hans, Jr.", "Hans Müller, Jr."])
def test_suffix(raw: str) -> None:
    name = parse_person_name(raw)
    assert (name.first, name.last, name.suffix) == ("Hans", "Müller", "Jr.")


def test_single_word_is_last_name() -> None:
    assert parse_person_name("Herr Müller") == PersonName(salutation="Herr", last="Müller")


def test_empty_name_raises() -> None:
    with pytest.raises(InvalidValue):
        parse_person_name("  , ")


def test_join_person_name_skips_empty_parts() -> None:
    assert join_person_name("Hans", "Müller", particle="von", title="Dr.", middle="") == "Dr. Hans von Müller"


def test_display_round_trip() -> None:
    raw = "Frau Prof. Dr. Anna Maria von der Heide"
    assert parse_person_name(raw).display() == raw
    assert parse_person_name(parse_person_name(raw).display()) == parse_person_name(raw)


def test_split_full_name() -> None:
    assert split_full_name("Prof. Dr. Anna Maria von der Heide") == ("Anna Maria", "von der Heide")
    assert split_full_name("Müller, Hans") == ("Hans", "Müller")


def test_split_name_prefix() -> None:
    assert split_name_prefix("Herr Dr.") == ("Herr", "Dr.")
    assert split_name_prefix("Prof. Dr.") == (None, "Prof. Dr.")
    assert split_name_prefix("Mrs.") == ("Mrs", None)


def test_normalize_salutation() -> None:
    assert normalize_salutation("Hr.") == "Herr"
    assert normalize_salutation("frau") == "Frau"
    assert normalize_salutation("Majestät") is None


def test_name_key_ignores_order_titles_particles_and_umlaut_spelling() -> None:
    assert (
        name_key("Dr. Hans von Müller")
        == name_key("Müller, Hans")
        == name_key("Hans Mueller")
        == name_key(PersonName(first="Hans", last="Muller"))
        == "hans muller"
    )


_WORDS = st.sampled_from(["Hans", "Anna", "Müller", "von", "der", "Dr.", "Herr", "Jr.", "Peter", "Heide"])


@given(st.lists(_WORDS, min_size=1, max_size=6))
def test_parse_display_is_idempotent(words: list[str]) -> None:
    try:
        once = parse_person_name(" ".join(words)).display()
    except InvalidValue:
        return
    if once:
        assert parse_person_name(once).display() == once
