"""``astrom3 plant SKY OUT``: a copy of a sky with known planted errors, to measure the tool on it."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "plant", help="copy a sky with planted label flips, relabelled classes and swapped spectra",
        description="Write OUT, a copy of SKY with known planted errors and OUT/truth.parquet, so that "
                    "`astrom3 run OUT -w WS` and `astrom3 evaluate WS --truth OUT --sky OUT` measure how well "
                    "the rankings find them on your own catalogue. Columns that would leak the truth "
                    "(free-text types, cross-identifications, rfr_score) are dropped, and named.")
    p.add_argument("sky", metavar="SKY", help="the sky directory to copy")
    p.add_argument("out", metavar="OUT", help="the planted sky to write")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0): same seed, same copy")
    p.add_argument("--flip", type=float, default=0.03,
                   help="share of labels flipped to a confusable class (default 0.03)")
    p.add_argument("--relabel", default="", metavar="FROM:TO[,FROM:TO]",
                   help="give every FROM object the label TO, as a catalogue without that class would "
                        "(planted anomalies), e.g. ACEP:RRAB,CEPII:RRAB")
    p.add_argument("--swap", type=float, default=0.0,
                   help="share of objects with spectra whose spectrum is swapped with another's (default 0)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.plant import parse_relabel, plant_sky

    report = plant_sky(args.sky, args.out, seed=args.seed, flip=args.flip, relabel=parse_relabel(args.relabel),
                       swap=args.swap, overwrite=args.force)
    print(report.to_text())
    print(f"measure: astrom3 run {args.out} -w WS && astrom3 evaluate WS --truth {args.out} --sky {args.out}")
    return 0
