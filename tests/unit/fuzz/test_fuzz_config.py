"""Random config documents through ``parse_config``: a ``LoadedConfig`` or a ``ConfigError`` whose
every problem has a message (and the line of its key where the key is in the text); never any
other exception, never a secret given through ``${VAR}`` in the error text.

Documents are valid-ish: a working config or a random tree of config-like keys, dumped as YAML,
then mutated as text (anchors and aliases, tags, huge numbers, impossible dates, deep nesting,
stray indicators, tabs, unicode).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from tests.unit.sync.harness import config_text

from einklang.config import ConfigError, LoadedConfig, parse_config

from .common import fuzz_settings

SECRET_NAME = "FUZZ_SECRET"
KEYS = [
    "state",
    "systems",
    "entities",
    "default_region",
    "state_shared_database",
    "connector",
    "url",
    "table",
    "id",
    "map",
    "fields",
    "keys",
    "sync",
    "match",
    "spec",
    "column",
    "join",
    "sep",
    "split",
    "name_part",
    "part",
    "values",
    "transform",
    "read_only",
    "owner",
    "on_violation",
    "conflicts",
    "leader",
    "empty_wins",
    "deletes",
    "delete_guard",
    "create_in",
    "password",
    "token",
    "type",
    "required",
    "duplicate",
    "possible",
    "erp",
    "crm",
    "customer",
    "number",
    "name",
    "email",
    "changed",
    "correlation",
    "archive",
    "timeout",
    "store",
    "page_size",
    "secrets_file",
]
WORDS = [
    "memory",
    "sql",
    "nope",
    "str",
    "email",
    "phone",
    "int",
    "date",
    "manual",
    "newest",
    "propagate",
    "first",
    "last",
    "DE",
    "xx",
    "erp",
    "crm",
    "number",
    "name",
    "sqlite:///:memory:",
    f"${{{SECRET_NAME}}}",
    "${FUZZ_MISSING}",
    f"${{{SECRET_NAME}:-fallback}}",
    f"postgresql://u:${{{SECRET_NAME}}}@db/erp",
    f"https://h/x?token=${{{SECRET_NAME}}}",
]
# text spliced into a document: YAML syntax, tags, and scalars PyYAML cannot construct
ATOMS = [
    "&a ",
    "*a",
    "<<: *a\n",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!timestamp ",
    "!!str ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!python/object:os.system ",
    "!custom ",
    "2024-13-45",
    "2001-02-30 25:61:61",
    "9" * 5000,
    "0x" + "f" * 5000,
    "1e999999",
    "-.inf",
    ".nan",
    "0o99",
    "[" * 120,
    "{a: " * 60,
    "- " * 60,
    "\t",
    ": ",
    "- ",
    "? ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    '"',
    "\\",
    "#",
    "|",
    ">",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\n  ",
    "\n",
    "\x85",
    "\u2028",
    "\ufeff",
    "\x00",
    "\x1b",
    "${" + SECRET_NAME + "}",
    "ÄÖÜß",
    "𝔘𝔫𝔦",
    "😀",
]


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**30, max_value=10**60),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(WORDS),
        st.text(max_size=20),
    )


def _keys() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(KEYS), st.text(max_size=12), st.integers(-3, 3), st.booleans())


TREES = st.recursive(
    _scalars(),
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(_keys(), children, max_size=6)),
    max_leaves=40,
)
VALID = config_text(["erp", "crm"], sync="conflicts: {leader: erp}\nfields: {city: {owner: crm}}")


@st.composite
def documents(draw: st.DrawFn) -> str:
    start = draw(st.sampled_from(["valid", "tree", "skeleton"]))
    if start == "valid":
        text = VALID
    else:
        tree = draw(TREES)
        if start == "skeleton":
            tree = {
                "systems": {
                    "erp": {
                        "connector": draw(st.sampled_from(["memory", "sql", "nope"])),
                        "password": f"${{{SECRET_NAME}}}",
                    }
                },
                "entities": {"customer": {"fields": {"number": "str"}, "systems": {"erp": tree}}},
            }
        try:
            text = yaml.safe_dump(
                tree, allow_unicode=draw(st.booleans()), default_flow_style=draw(st.sampled_from([None, True, False]))
            )
        except yaml.YAMLError:  # keys PyYAML cannot write: start from the working config
            text = VALID
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:position] + draw(st.one_of(st.sampled_from(ATOMS), st.text(max_size=8))) + text[position:]
        else:
            text = text[:position] + text[position + draw(st.integers(1, 12)) :]
    return text


def _secrets() -> st.SearchStrategy[str]:
    # a marker makes a match in the error text mean a leak, not a coincidence with a key name
    return st.text(min_size=4, max_size=16).map(lambda tail: "zQ9" + tail)


def _leaks(secret: str, text: str) -> bool:
    escaped = repr(secret)[1:-1]  # how f"{value!r}" writes it inside a message
    return secret in text or escaped in text


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Where each key path stands in the text (as the config's own index does), if the text composes."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except Exception:  # the index is only for the check; parse_config reports unreadable YAML itself
        return {}
    index: dict[tuple[str, ...], int] = {}
    stack: list[tuple[Any, tuple[str, ...], int]] = [(root, (), 0)] if root is not None else []
    while stack:
        node, where, depth = stack.pop()
        if depth > 50:
            continue
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*where, str(key_node.value))
                index[key] = key_node.start_mark.line + 1
                stack.append((value_node, key, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append((item, (*where, str(i)), depth + 1))
    return index


def check_document(text: str, secret: str) -> None:
    environ = {SECRET_NAME: secret}
    try:
        loaded = parse_config(text, Path("fuzz.yaml"), environ=environ)
    except ConfigError as error:
        shown = str(error)
        assert not _leaks(secret, shown), shown
        lines = _key_lines(text)
        for problem in error.problems:
            assert problem.message.strip(), repr(shown)
            assert not _leaks(secret, problem.message)
            if problem.key and tuple(problem.key.split(".")) in lines:
                assert problem.line is not None, problem.located()
        return
    assert isinstance(loaded, LoadedConfig)
    assert not _leaks(secret, str(loaded.masked()))


@fuzz_settings(300)
@given(text=documents(), secret=_secrets())
@example(text=VALID, secret="zQ9plain")
@example(text="a: 2024-13-45\n", secret="zQ9date")
@example(text="delete_guard: " + "9" * 5000 + "\n", secret="zQ9huge")
@example(text="a: !!float abc\nb: !!bool maybe\n", secret="zQ9tag")
@example(text="a: " + "[" * 2000 + "\n", secret="zQ9deep")
@example(text="systems: {erp: {connector: '${FUZZ_SECRET}'}}\n", secret="zQ9connector")
@example(text="entities: {c: {keys: ['${FUZZ_SECRET}'], fields: {n: str}, systems: {}}}\n", secret="zQ9'\\x\n")
@example(text='"\\U00110000": []\n', secret="zQ9escape")
@example(text="\x1fsystems: {}\n", secret="zQ9reader")
def test_random_config_documents(text: str, secret: str) -> None:
    check_document(text, secret)


SECRETS_DIR = Path(tempfile.mkdtemp(prefix="einklang-fuzz-secrets-"))
(SECRETS_DIR / "binary.env").write_bytes(b"\xff\xfe\x00PW=\x81\x82\n")
(SECRETS_DIR / "good.env").write_text(f"{SECRET_NAME}=zQ9fromfile\n", encoding="utf-8")
(SECRETS_DIR / "bad.env").write_text("no equals sign here\n", encoding="utf-8")
(SECRETS_DIR / "folder.env").mkdir()


@fuzz_settings(60)
@given(
    name=st.sampled_from(["binary.env", "good.env", "bad.env", "folder.env", "missing.env", "a\x00b"]),
    document=documents(),
)
def test_random_secrets_files(name: str, document: str) -> None:
    text = f"secrets_file: {yaml.safe_dump(str(SECRETS_DIR / name)).splitlines()[0]}\n" + document
    check_document(text, "zQ9fromenv")


def test_a_config_file_that_is_not_utf8_is_a_file_line_error(tmp_path: Path) -> None:
    from einklang.config import load_config

    path = tmp_path / "einklang.yaml"
    path.write_bytes("systems:\n  erp: {connector: memory}\n# Gr\u00fc\u00dfe\n".encode("cp1252"))
    try:
        load_config(path)
    except ConfigError as error:
        assert error.line == 3 and "not UTF-8" in error.message
    else:
        raise AssertionError("a cp1252 config was accepted")
