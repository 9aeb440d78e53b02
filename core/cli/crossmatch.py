"""``astrom3 crossmatch SKY CATALOG_FILE``: the nearest entry of the user's catalogue (VSX, Gaia...) per object."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("crossmatch", help="match a sky against a catalogue file (VSX or Gaia export) by position",
                       description="Adds PREFIX_name, PREFIX_type and PREFIX_sep_arcsec (text; empty where nothing "
                                   "is within --radius) to the sky's objects from the nearest catalogue entry, and "
                                   "writes the sky again atomically (or to --out). The sky's fingerprint changes, so "
                                   "`astrom3 run` recomputes a workspace made from it.")
    p.add_argument("sky", help="sky directory (objects with ra/dec)")
    p.add_argument("catalog", help="catalogue file: csv, ecsv, xml/vot (VOTable) or fits")
    p.add_argument("--radius", default="2arcsec", help="match radius (default 2arcsec; a bare number is arcsec)")
    p.add_argument("--out", default=None, help="write the matched sky here instead of replacing SKY")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument("--prefix", default="xmatch", help="column prefix (default xmatch; e.g. vsx, gaia)")
    for what in ("ra", "dec", "name", "type"):
        p.add_argument(f"--{what}", default=None, dest=f"{what}_column", metavar="COLUMN",
                       help=f"catalogue {what} column (default: detected)")
    p.set_defaults(func=run)


def _write(sky, objects, out, *, overwrite: bool) -> None:
    """``sky`` with new objects at ``out``, through :class:`core.sky.SkyWriter` (atomic; other files linked or copied)."""
    import json
    import os
    import shutil

    import pyarrow.parquet as pq

    from core import schema
    from core.sky import SkyWriter

    meta = pq.read_schema(sky.path / schema.OBJECTS_FILE).metadata or {}
    with SkyWriter(out, overwrite=overwrite) as w:
        if b"astrom3" in meta:
            w.metadata = json.loads(meta[b"astrom3"])
        w.write_objects(objects)
        for name in (schema.LIGHTCURVES_FILE, schema.SPECTRA_FILE, schema.TRUTH_FILE):
            src = sky.path / name
            if src.exists():
                try:
                    os.link(src, w.tmp / name)  # the files are never rewritten in place, so a link is safe
                except OSError:
                    shutil.copy2(src, w.tmp / name)


def run(args) -> int:
    import re
    from pathlib import Path

    from core.idlist import read_table
    from core.links import CatalogueError, crossmatch, parse_radius
    from core.sky import open_sky

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,30}", args.prefix):
        raise CatalogueError(f"prefix {args.prefix!r}: use letters and digits, starting with a letter")
    radius = parse_radius(args.radius)
    sky = open_sky(args.sky)
    catalogue = read_table(args.catalog, what="catalogue")
    matched = crossmatch(sky.objects, catalogue, radius_arcsec=radius, source=str(args.catalog), prefix=args.prefix,
                         ra=args.ra_column, dec=args.dec_column, name=args.name_column, type=args.type_column)
    objects = sky.objects.drop(columns=[c for c in sky.objects.columns if c.startswith(f"{args.prefix}_")])
    for col in matched.columns[1:]:
        objects[col] = matched[col].to_numpy()
    out = Path(args.out).expanduser() if args.out else sky.path
    in_place = out.resolve() == sky.path.resolve()
    if not in_place:
        if out.resolve().is_relative_to(sky.path.resolve()):
            raise CatalogueError(f"--out {out}: inside the sky {sky.path}; write the new sky beside it")
        if out.exists() and not (out / "objects.parquet").is_file():
            raise CatalogueError(f"--out {out}: exists and is not a sky; choose a new path (it is not replaced)")
    _write(sky, objects, out, overwrite=in_place or args.force)
    a = matched.attrs
    cols = ", ".join(f"{k}={v}" for k, v in a["columns"].items() if v)
    print(f"matched {a['matched']} of {len(objects)} objects within {radius:g} arcsec of {a['catalogue_rows']} "
          f"catalogue rows ({cols})" + (f"; {a['unreadable']} rows without coordinates skipped" if a["unreadable"]
                                        else "") + f"; wrote {out}")
    return 0
