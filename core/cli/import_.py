"""``astrom3 import FORMAT SRC OUT``: read survey files into a sky."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("import", help="read survey files (AstroM3, ASAS-SN, LAMOST, CRTS) into a sky",
                       description="Read survey files into the sky layout (written atomically: a failed "
                                   "import leaves nothing behind). `astrom3 import --list` lists formats.")
    p.add_argument("format", nargs="?", help="reader name (see --list)")
    p.add_argument("src", nargs="?", help="input file or directory")
    p.add_argument("out", nargs="?", help="sky directory to create")
    p.add_argument("--catalog", help="catalogue CSV (id/name, label, ra, dec, period, ...)")
    p.add_argument("--keep-unmatched", action="store_true",
                   help="keep data files without a catalogue row, unlabelled (default: error)")
    p.add_argument("--label-names", help="comma-separated class names for integer labels (astrom3 format)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--list", action="store_true", help="list the available formats and exit")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.errors import AstroM3Error
    from core.io import import_sky, list_readers

    if args.list:
        for name, desc in list_readers().items():
            print(f"{name:10s} {desc}")
        return 0
    if not (args.format and args.src and args.out):
        raise AstroM3Error("import needs FORMAT SRC OUT (see `astrom3 import --list`)")
    given = {"catalog": args.catalog, "keep_unmatched": args.keep_unmatched, "label_names": args.label_names}
    options = {k: v for k, v in given.items() if v not in (None, False)}   # only what the user set
    out = import_sky(args.format, args.src, args.out, overwrite=args.force, **options)
    from core.sky import validate_sky

    print(validate_sky(out).to_text())
    return 0
