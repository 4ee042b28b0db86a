"""``einklang match train``: estimate a duplicate-detection model from the user's own data."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from einklang.cli._common import CliError, ConfigOption, JsonOption, cli_errors, emit_json, lit, load, say

match_app = typer.Typer(help="Duplicate-detection models.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(match_app, name="match")


@match_app.command("train")
def train_command(
    files: Annotated[list[Path] | None, typer.Argument(help="Contact files to learn from.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to save the model (JSON).")] = Path("match-model.json"),
    spec_name: Annotated[
        str | None,
        typer.Option(
            "--spec",
            help="Record type: contact, company or person (default: contact for files, from the entity for --system).",
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="Learn from a configured system instead.")] = None,
    entity: Annotated[str | None, typer.Option("--entity", help="Entity of --system.")] = None,
    max_pairs: Annotated[
        int,
        typer.Option(
            "--max-pairs", min=1000, help="Random pairs sampled to estimate u (more: steadier estimates, slower)."
        ),
    ] = 1_000_000,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Estimate m/u probabilities from your records (u by random sampling, m by EM) and save the model.

    Use it with `einklang dedupe --model FILE`. Small lists are better served by the shipped model.
    """
    from einklang.importer.incoming import read_files
    from einklang.importer.matching import match_record, spec_for_entity
    from einklang.match import SPECS, train
    from einklang.systems import open_connector

    with cli_errors(as_json):
        if bool(files) == bool(system):
            raise CliError("give contact files or --system SYSTEM (not both)", 2)
        if spec_name is not None and spec_name not in SPECS:
            raise CliError(f"unknown spec {spec_name!r}; choose one of {', '.join(SPECS)}", 2)
        records: list[dict[str, Any]] = []
        region = "DE"
        if files:
            if config is not None:
                region = load(config).model.default_region
            reports, rows = read_files(files, region)
            unreadable = [r for r in reports if r.error]
            if unreadable:
                raise CliError("; ".join(str(r.error) for r in unreadable), 1)
            records = [match_record(str(i), row.values) for i, row in enumerate(rows)]
            spec = SPECS[spec_name or "contact"]
        else:
            assert system is not None
            loaded = load(config)
            region = loaded.model.default_region
            if entity is None:
                choices = [name for name in loaded.model.entities if system in loaded.systems_of(name)]
                if len(choices) != 1:
                    raise CliError(f"give --entity (system {system!r} holds: {', '.join(choices) or 'nothing'})", 2)
                entity = choices[0]
            mapping = loaded.mapping(entity, system)
            with open_connector(loaded, system) as connector:
                for page in connector.read_all(entity):
                    for native in page:
                        canonical, _ = mapping.to_canonical(native.fields)
                        records.append(match_record(native.native_id, canonical))
            spec = SPECS[spec_name] if spec_name else spec_for_entity(entity, mapping.canonical_fields)
        if len(records) < 2:
            raise CliError("training needs at least two records", 1)
        # Splink reports every level a small data set cannot inform; the model keeps its defaults there
        logging.getLogger("splink").setLevel(logging.ERROR)
        model = train(records, spec, default_region=region, max_pairs=max_pairs)
        model.save(out)
        if as_json:
            emit_json({"ok": True, "out": str(out), "spec": spec.name, "records": len(records)})
        else:
            say(f"trained a {spec.name} model on {len(records)} records; saved to {lit(out)}")
            say(f"use it with: einklang dedupe FILE... --model {lit(out)}")
