"""``astrom3 flags list|add|undo|export|import|merge|migrate``: the labelling store from the command line.

``STORE`` is a workspace directory (its ``flags.sqlite`` is used), a ``.sqlite`` file, or a
``postgresql://user@host/db`` URL (a store shared by several explorer servers).
"""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("flags", help="list, export, import and merge astronomers' flags",
                       description="The flag store of a workspace (WS/flags.sqlite): list current flags, "
                                   "add or undo one, export to CSV/ECSV/VOTable/JSON, import an export, and "
                                   "merge several people's stores with agreement statistics.")
    fsub = p.add_subparsers(dest="flags_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    def store_arg(q):
        q.add_argument("store", help="workspace directory, flags .sqlite file or postgresql://user@host/db")

    def filters(q):
        q.add_argument("--kind", default=None, help="only this kind")
        q.add_argument("--user", default=None, help="only this user's flags")
        q.add_argument("--session", type=int, default=None, help="only this session")
        q.add_argument("--since", default=None, help="only flags made at or after this ISO time")

    q = fsub.add_parser("list", help="print the current flags")
    store_arg(q)
    filters(q)
    q.set_defaults(func=run_list)

    q = fsub.add_parser("add", help="record one decision")
    store_arg(q)
    q.add_argument("id", help="object id")
    q.add_argument("kind", help="mislabel, anomaly, crossmatch, subclass, fine or interesting")
    q.add_argument("--user", required=True, help="who decides")
    q.add_argument("--label", default=None, help="proposed label")
    q.add_argument("--subclass", default=None, help="subclass tag")
    q.add_argument("--note", default=None, help="free-text note (at most 2000 characters)")
    q.add_argument("--sky", default=None, help="sky directory to check the id and label against (default: the "
                                              "workspace's results.parquet)")
    q.set_defaults(func=run_add)

    q = fsub.add_parser("undo", help="undo a user's latest decision on an object")
    store_arg(q)
    q.add_argument("id", help="object id")
    q.add_argument("--user", required=True, help="whose decision to undo")
    q.set_defaults(func=run_undo)

    q = fsub.add_parser("export", help="write the current flags to CSV, ECSV, VOTable (.xml) or JSON",
                        description="FILE is written inside the workspace (default flags.csv); a path "
                                    "outside the workspace needs --out. Writes are atomic.")
    store_arg(q)
    q.add_argument("file", nargs="?", default=None, help="file name inside the workspace (default flags.<format>)")
    q.add_argument("--out", default=None, help="output path anywhere")
    q.add_argument("--format", default=None, choices=["csv", "ecsv", "votable", "json"],
                   help="default: from the suffix, else csv")
    q.add_argument("--sky", default=None, help="sky directory: adds name/ra/dec/label columns")
    filters(q)
    q.set_defaults(func=run_export)

    q = fsub.add_parser("import", help="read an export (or another store) into the store")
    store_arg(q)
    q.add_argument("file", help="csv, ecsv, xml/vot (VOTable), json or .sqlite")
    q.add_argument("--format", default=None, choices=["csv", "ecsv", "votable", "json"])
    q.set_defaults(func=run_import)

    q = fsub.add_parser("import-ids", help="flag every object of an id list (CSV, ECSV, VOTable, FITS; e.g. from TOPCAT)",
                        description="Reads the ids of FILE (column id, name, source_id... or --column) and flags each "
                                    "as KIND by USER in one transaction; ids already so flagged by USER are left alone.")
    store_arg(q)
    q.add_argument("file", help="csv, ecsv, xml/vot (VOTable) or fits file of object ids")
    q.add_argument("--kind", default="interesting", help="flag kind (default interesting)")
    q.add_argument("--user", required=True, help="who flags")
    q.add_argument("--column", default=None, help="id column (default: found by name or by matching the sky's ids)")
    q.add_argument("--note", default=None, help="note stored with every flag")
    q.add_argument("--sky", default=None, help="sky directory to check the ids against (default: results.parquet)")
    q.add_argument("--skip-unknown", action="store_true", help="flag the known ids, report the others")
    q.set_defaults(func=run_import_ids)
    _register_merge_and_migrate(fsub)


def _register_merge_and_migrate(fsub) -> None:
    q = fsub.add_parser("merge", help="combine several people's flags; agreement per kind and conflicts")
    q.add_argument("inputs", nargs="+", help="stores (.sqlite or workspaces) or exports")
    q.add_argument("--out", default=None, help="write the merged flags here (.sqlite or an export file)")
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q.set_defaults(func=run_merge)

    q = fsub.add_parser("migrate", help="copy a store into an empty one (e.g. SQLite to PostgreSQL) without loss",
                        description="Copy every session and decision of SOURCE (ids, undo rows, times, "
                                    "fingerprints) into the empty TARGET in one transaction, then read TARGET back "
                                    "and compare every field. SOURCE is only read. Typically: astrom3 flags "
                                    "migrate WS/flags.sqlite postgresql://user@host/db (the password is best "
                                    "kept in ~/.pgpass or PGPASSWORD rather than in the URL).")
    q.add_argument("source", help="workspace directory, .sqlite file or postgresql:// URL to copy from")
    q.add_argument("target", help="postgresql://user@host/db (or a new .sqlite file) to copy into; must be empty")
    q.set_defaults(func=run_migrate)


def _store_path(arg: str):
    """``(location, workspace)`` of a STORE argument; the workspace is None for a PostgreSQL URL."""
    from pathlib import Path

    from core import schema
    from core.flags import FlagStoreError
    from core.flags.backends import is_postgres_url

    if is_postgres_url(arg):
        return arg, None
    p = Path(arg)
    if p.is_dir():
        return p / schema.FLAGS_FILE, p
    if p.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
        return p, p.parent
    raise FlagStoreError(f"{arg}: not a workspace directory or a .sqlite flag store")


def _open(arg: str, *, must_exist=True, **check):
    from core.flags import FlagStore, FlagStoreError

    path, workspace = _store_path(arg)
    if must_exist and workspace is not None and not path.exists():
        raise FlagStoreError(f"{path}: no flag store there yet")
    return FlagStore(path, **check)


def _workspace_check(arg: str, sky_arg=None, *, required: bool = True) -> dict:
    """What a store's flags are checked against: ``--sky`` if given, else the workspace's results.

    Returns keyword arguments of :class:`core.flags.FlagStore` (``sky``, or ``valid_ids`` and
    ``labels`` read from ``results.parquet``); empty when nothing is known and not ``required``.

    Raises
    ------
    FlagStoreError
        When ``required`` and the workspace has no results and no ``--sky`` was given.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from core import schema
    from core.flags import FlagStoreError

    if sky_arg:
        from core.sky import open_sky
        return {"sky": open_sky(sky_arg)}
    _, workspace = _store_path(arg)
    if workspace is None:  # a PostgreSQL store: no workspace beside it
        if required:
            raise FlagStoreError("a PostgreSQL flag store has no workspace to check object ids and labels "
                                 "against; pass --sky SKY")
        return {}
    results = workspace / schema.RESULTS_FILE
    if not results.exists():
        if required:
            raise FlagStoreError(f"{workspace}: no {schema.RESULTS_FILE} to check object ids and labels against; "
                                 f"pass --sky SKY or run `astrom3 run SKY --workspace {workspace}` first")
        return {}
    t = pq.read_table(results, columns=["id", "label"])
    labels = pc.unique(pc.drop_null(t["label"])).to_pylist()
    return {"valid_ids": [str(i) for i in t["id"].to_pylist()], "labels": [str(x) for x in labels]}


def _provenance(arg: str) -> dict:
    """Sky and model fingerprints the workspace recorded for its results (for new sessions)."""
    from core import schema
    from core.workspace import Workspace

    _, workspace = _store_path(arg)
    if workspace is None or not (workspace / "manifest.json").exists():
        return {}
    entry = Workspace(workspace, create=False).manifest().get(schema.RESULTS_FILE, {})
    return {"sky_fingerprint": entry.get("inputs", {}).get("sky"), "model_fingerprint": entry.get("fingerprint")}


def _print(df) -> None:
    if len(df) == 0:
        print("no flags")
    else:
        import pandas as pd
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print(df.to_string(index=False))


def run_list(args) -> int:
    with _open(args.store) as store:
        _print(store.current(user=args.user, kind=args.kind, session=args.session, since=args.since))
    return 0


def run_add(args) -> int:
    check = _workspace_check(args.store, args.sky)
    info = _provenance(args.store)
    if "sky" in check:
        info.pop("sky_fingerprint", None)  # the given sky's own fingerprint
    with _open(args.store, must_exist=False, **check) as store:
        store.check(args.id, args.kind, args.label)  # before a session is started for nothing
        s = store.start_session(args.user, **info)
        d = store.add(s, args.id, args.kind, proposed_label=args.label, subclass=args.subclass, note=args.note)
    print(f"flagged {d['id']} as {d['kind']} (decision {d['decision']}, session {s})")
    return 0


def run_undo(args) -> int:
    with _open(args.store) as store:
        s = store.start_session(args.user)
        d = store.undo(s, args.id)
    print(f"undid {d['kind']} on {d['id']} by {d['user']}" if d else f"nothing to undo on {args.id}")
    return 0


def run_export(args) -> int:
    from pathlib import Path

    from core.flags import EXPORT_FORMATS, FlagStoreError

    path, workspace = _store_path(args.store)
    if args.out and args.file:
        raise FlagStoreError("give either FILE (inside the workspace) or --out, not both")
    if args.out:
        out = Path(args.out)
    elif workspace is None:
        raise FlagStoreError("a PostgreSQL flag store has no workspace to export into; pass --out FILE")
    else:
        name = args.file or f"flags.{EXPORT_FORMATS[args.format or 'csv'][0].lstrip('.')}"
        out = (workspace / name).resolve()
        if not out.is_relative_to(workspace.resolve()):
            raise FlagStoreError(f"{name}: outside the workspace {workspace}; pass --out to write there")
    fmt = args.format
    if fmt is None and not any(out.suffix.lower() in s for s in EXPORT_FORMATS.values()):
        fmt = "csv"
    sky = None
    if args.sky:
        from core.sky import open_sky
        sky = open_sky(args.sky)
    with _open(args.store) as store:
        written = store.export(out, format=fmt, sky=sky, user=args.user, kind=args.kind, session=args.session,
                               since=args.since)
        n = len(store.current(user=args.user, kind=args.kind, session=args.session, since=args.since))
    print(f"wrote {n} flags to {written}")
    return 0


def run_import(args) -> int:
    with _open(args.store, must_exist=False, **_workspace_check(args.store, required=False)) as store:
        n = store.import_(args.file, format=args.format)
    print(f"imported {n} new decisions from {args.file}")
    return 0


def run_import_ids(args) -> int:
    from core.idlist import flag_ids, read_id_list

    check = _workspace_check(args.store, args.sky)
    known = check["sky"].ids if "sky" in check else check["valid_ids"]
    ids = read_id_list(args.file, column=args.column, known_ids=known)
    info = {"sky_fingerprint": check["sky"].fingerprint} if "sky" in check else _provenance(args.store)
    with _open(args.store, must_exist=False, **check) as store:
        r = flag_ids(store, ids, args.kind, user=args.user, note=args.note, skip_unknown=args.skip_unknown,
                     source=args.file, **info)
    print(f"flagged {r['added']} objects as {args.kind} from {args.file}"
          + (f"; {r['already']} already were" if r["already"] else "")
          + (f"; skipped {len(r['unknown'])} ids not in the sky" if r["unknown"] else ""))
    return 0


def run_merge(args) -> int:
    import json
    from pathlib import Path

    from core import schema
    from core.flags import merge_stores

    inputs = [Path(p) / schema.FLAGS_FILE if Path(p).is_dir() else Path(p) for p in args.inputs]
    report = merge_stores(inputs, out=args.out)
    print(json.dumps(report.to_dict(), indent=1, default=str) if args.json else report.summary())
    return 0


def run_migrate(args) -> int:
    from core.flags import migrate
    from core.flags.backends import redact

    source, _ = _store_path(args.source)
    target, _ = _store_path(args.target)
    n = migrate(source, target)  # refuses a target that holds anything

    print(f"copied {n['sessions']} sessions and {n['decisions']} decisions from {redact(source)} to "
          f"{redact(target)}; every field compared equal (the source was left as it was)")
    return 0
