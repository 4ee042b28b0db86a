"""``python -m einklang.web --config einklang.yaml --port 8080``: the web app alone, for development.

No scheduler runs: an admin starts sync cycles from the overview. ``einklang serve`` is the
way to run einklang as a service.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m einklang.web", description=__doc__)
    parser.add_argument("--config", "-c", type=Path, default=None, help="einklang.yaml (default: ./einklang.yaml)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)

    import uvicorn

    from einklang.config import load_config
    from einklang.store.state import store_for_config
    from einklang.web.app import build_web_app

    loaded = load_config(args.config)
    store = store_for_config(loaded)
    uvicorn.run(build_web_app(loaded, store, None), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
