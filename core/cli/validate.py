"""``astrom3 validate SKY``: check every file of a sky and print a summary."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("validate", help="check a sky and summarise it",
                       description="Check every file of a sky (structure, ids, every light curve and "
                                   "spectrum) and print objects per label, modality coverage, epochs "
                                   "per light curve and spectral range. Exit code 2 on a malformed sky.")
    p.add_argument("sky", help="sky directory")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.sky import validate_sky

    print(validate_sky(args.sky).to_text())
    return 0
