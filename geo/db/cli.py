"""The data store from the command line: ``python -m geo.db COMMAND [--url URL]``.

Database administration for shared deployments (these need a database):

* ``init``: create the schema, tables and GIST indexes (idempotent; PostGIS must be installable).
* ``load``: copy boundaries, plan tables and registries from the bundled files (or ``--data
  DIR`` in the same layout) into the database; registries become a new version of each layer
  (none when nothing changed). ``--only`` limits it to some parts.
* ``export``: write everything back as files in the bundled layout under ``-o DIR`` (also from
  the embedded store).

Registry versions, on whichever store is configured (the database, else the embedded store:
``$XINING_DATA_DIR/xining.sqlite``, default ``var/``, seeded from the files in ``data/``):

* ``status``: the current version of each layer and the row counts.
* ``history LAYER``: every saved version of one layer.
* ``undo LAYER``: the version before the latest save becomes current again (as a new version).
* ``restore LAYER VERSION``: that version becomes current again (as a new version).

The URL comes from ``--url`` or ``XINING_DATABASE_URL``; the schema from ``--schema`` or
``XINING_DATABASE_SCHEMA`` (default ``xining``). Exit codes: 0 success, 1 a colleague saved in
between (nothing written), 2 unusable input, no database, or a store that cannot be reached or
written (one sentence, no password).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from base.errors import InputError, StoreError
from geo.backends import (
    DATABASE_URL_ENV,
    BundledFiles,
    EmbeddedBackend,
    PostGISBackend,
    database_url,
    store_path,
)
from geo.backends.saving import restore_version, undo_last
from layers.schema import LAYERS

PARTS = ("boundaries", "plan", "registries")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m geo.db", description=__doc__.split("\n")[0])
    _connection_args(parser, default=None)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("init", help="create the schema, tables and indexes")
    load = sub.add_parser("load", help="load the bundled (or --data) files into the database")
    load.add_argument("--data", type=Path, help="a directory with boundaries/, sites/, plan/")
    load.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    export = sub.add_parser("export", help="write the store's content as files")
    export.add_argument("-o", "--output", type=Path, required=True)
    status = sub.add_parser("status", help="layer versions and row counts")
    history = sub.add_parser("history", help="saved versions of one layer")
    history.add_argument("layer", choices=list(LAYERS))
    undo = sub.add_parser("undo", help="go back to the version before the latest save")
    undo.add_argument("layer", choices=list(LAYERS))
    restore = sub.add_parser("restore", help="make an earlier version current again")
    restore.add_argument("layer", choices=list(LAYERS))
    restore.add_argument("version", type=int)
    for p in (undo, restore):
        p.add_argument("--by", default="", help="your name, kept in the history")
    for p in (status, history, undo, restore, export):
        p.add_argument(
            "--data",
            type=Path,
            help="with no database: the bundled files the store starts from (default data/)",
        )
    for p in sub.choices.values():  # `--url` before or after the command, as the README says
        _connection_args(p, default=argparse.SUPPRESS)
    return parser


def _connection_args(parser: argparse.ArgumentParser, *, default: object) -> None:
    """``--url`` and ``--schema``; on a subcommand they default to SUPPRESS, so a value given
    before the command is not overwritten by the subcommand's absent one."""
    url_help = f"PostgreSQL URL (default: ${DATABASE_URL_ENV})"
    parser.add_argument("--url", default=default, help=url_help)
    parser.add_argument("--schema", default=default, help="schema name (default: xining)")


VERSION_COMMANDS = ("status", "history", "undo", "restore")


def _versions(store, args: argparse.Namespace) -> int:
    """status / history / undo / restore on ``store`` (files or database)."""
    if args.command == "status":
        for layer in LAYERS:
            load = store.load_registry(layer)
            print(f"{layer}\tversion {load.version}\t{len(load.sites)} rows")
        return 0
    if args.command == "history":
        print(store.history(args.layer).to_string(index=False))
        return 0
    if args.command == "undo":
        out = undo_last(store, args.layer, saved_by=args.by)
    else:
        out = restore_version(store, args.layer, args.version, saved_by=args.by)
    if not out.saved:
        print(f"error: {out.error}", file=sys.stderr)
        return 1
    print(f"{args.layer}: version {out.version} ({out.rows} rows) is current", file=sys.stderr)
    return 0


def _embedded(data: Path | None) -> EmbeddedBackend:
    """The embedded store, seeded from ``data`` (a directory in the bundled layout) if given."""
    if data is None:
        return EmbeddedBackend(store_path())
    seed = BundledFiles(data / "boundaries", data / "sites", data / "plan")
    return EmbeddedBackend(store_path(), seed=seed)


def _run(args: argparse.Namespace, url: str | None) -> int:
    if not url and args.command in (*VERSION_COMMANDS, "export"):
        store = _embedded(getattr(args, "data", None))
        if args.command == "export":
            written = store.export(args.output)
            print(f"wrote {len(written)} files under {args.output}", file=sys.stderr)
            return 0
        status = _versions(store, args)
        for notice in store.notices:
            print(notice.en, file=sys.stderr)
        return status
    if not url:
        print(f"error: no database: pass --url or set {DATABASE_URL_ENV}", file=sys.stderr)
        return 2
    db = PostGISBackend(url, schema=args.schema)
    if args.command in VERSION_COMMANDS:
        return _versions(db, args)
    if args.command == "init":
        db.init()
        print(f"initialised schema {db.schema}", file=sys.stderr)
    elif args.command == "load":
        db.init()
        files = BundledFiles()
        if args.data:
            data = args.data
            files = BundledFiles(data / "boundaries", data / "sites", data / "plan")
        summary = db.load_from(files, parts=args.only)
        for key, value in summary.items():
            print(f"{key}\t{value}")
    elif args.command == "export":
        written = db.export(args.output)
        print(f"wrote {len(written)} files under {args.output}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args, args.url or database_url())
    except (InputError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
