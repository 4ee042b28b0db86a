"""``python -m einklang``: the same command line as ``einklang``."""

from einklang.cli import app

app(prog_name="einklang")
