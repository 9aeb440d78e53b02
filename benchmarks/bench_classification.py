"""Does contrastive pretraining help? The AstroM3 paper's central table on our skies.

For each sky: pretrain the ``cpu`` preset once (seed 0; its test split is never seen), then
fine-tune classifiers on photometry / spectra / metadata / all, from the pretrained encoders and
from scratch, at 10/25/50/100% of the training labels, over several seeds; report test accuracy
mean +- std. Writes benchmarks/results/classification.md and .json.

CPU budget: fine-tuning is capped (``--max-per-split`` objects per split, few epochs with early
stopping), so the numbers are for a reduced protocol; the results file says which.

    .venv/bin/python benchmarks/bench_classification.py --sky demo/sky20k-s0 --name demo \
        [--checkpoint demo] [--seeds 0 1 2]
    .venv/bin/python benchmarks/bench_classification.py --sky ../shared/data/crts-sss --name crts
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def run_sky(args) -> dict:
    from core.sky import open_sky
    from core.train import finetune, load_checkpoint, sky_modalities, train

    sky = open_sky(args.sky)
    work = Path(args.workdir) / args.name
    if args.checkpoint:
        from core.pipeline import resolve_checkpoint
        ckpt = resolve_checkpoint(args.checkpoint)  # a path, or "demo" for the shipped one
        pre_s = None
    else:
        t = time.perf_counter()
        ckpt = train(sky, workspace=work / "pretrain", preset="cpu", seed=0, resume=True)
        pre_s = round(time.perf_counter() - t, 1)
    loaded = load_checkpoint(ckpt, sky)
    mods = [m for m in sky_modalities(sky) if m in loaded.modalities]
    modalities = [m for m in ("photometry", "spectra", "metadata", "all") if m in mods or m == "all"]
    if args.modalities:
        modalities = [m for m in modalities if m in args.modalities]
    rows = []
    out = _results_path(args)
    if args.append and out.exists():  # keep earlier runs (e.g. more seeds for some cells)
        rows = json.loads(out.read_text())["runs"]
    for seed in args.seeds:
        for modality in modalities:
            for frac in args.fractions:
                for init in ("pretrained", "scratch"):
                    t = time.perf_counter()
                    m = finetune(sky, workspace=work / "finetune", modality=modality, label_fraction=frac,
                                 pretrained=ckpt if init == "pretrained" else None, seed=seed,
                                 config=loaded.config, split_seed=loaded.seed, epochs=args.epochs,
                                 patience=args.patience, max_per_split=args.max_per_split)
                    m.pop("classes", None)
                    rows.append(m)
                    print(f"[{args.name}] seed {seed} {modality:10s} {frac:>4g} {init:10s} "
                          f"acc {m['test_accuracy']:.3f} (n_train {m['n_train']}, {time.perf_counter() - t:.0f} s)",
                          flush=True)
                    _save(args, rows, pre_s)
    return _save(args, rows, pre_s)


def _results_path(args) -> Path:
    """benchmarks/results/classification_NAME[-PART].json"""
    return RESULTS / f"classification_{args.name}{args.part}.json"


def _save(args, rows, pre_s) -> dict:
    res = {"name": args.name, "sky": str(args.sky), "checkpoint": args.checkpoint, "pretrain_seconds": pre_s,
           "seeds": sorted({r["seed"] for r in rows}), "fractions": args.fractions, "epochs": args.epochs,
           "patience": args.patience, "max_per_split": args.max_per_split,
           "seconds": round(sum(r["seconds"] for r in rows), 1), "runs": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    _results_path(args).write_text(json.dumps(res, indent=2))
    return res


def table(res: dict) -> str:
    """Markdown table: rows modality x init, columns label fractions, cells mean +- std (n seeds)."""
    runs = res["runs"]
    fracs = sorted({r["label_fraction"] for r in runs})
    mods = [m for m in ("photometry", "spectra", "metadata", "all") if any(r["modality"] == m for r in runs)]
    head = "| modality | init | " + " | ".join(f"{int(100 * f)}% labels" for f in fracs) + " |"
    lines = [head, "|---|---|" + "---|" * len(fracs)]
    for m in mods:
        for init in ("scratch", "pretrained"):
            cells = []
            for f in fracs:
                acc = [r["test_accuracy"] for r in runs if r["modality"] == m and r["init"] == init
                       and r["label_fraction"] == f]
                cells.append(f"{100 * np.mean(acc):.1f} ± {100 * np.std(acc):.1f} (n={len(acc)})" if acc else "—")
            lines.append(f"| {m} | {init} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_markdown() -> None:
    parts = ["# Does pretraining help? Test accuracy (%) with and without contrastive pretraining", "",
             "Reproduces the protocol of AstroM3's central table (Rizhko & Bloom 2024) with our `cpu` preset: "
             "the same train/validation/test split as pretraining (its test objects were never seen), "
             "class-stratified label fractions, mean ± standard deviation over seeds (n = runs per cell). "
             "Ran on 2 CPU cores shared by two or three fine-tuning processes at once, so the seconds are not "
             "comparable between rows. See each section for the protocol actually run.", ""]
    for name in ("demo", "crts"):
        p = RESULTS / f"classification_{name}.json"
        if not p.exists():
            parts += [f"## {name}", "", "Not run (see the notes below).", ""]
            continue
        res = json.loads(p.read_text())
        for part in sorted(RESULTS.glob(f"classification_{name}-*.json")):  # runs made in parallel processes
            extra = json.loads(part.read_text())
            res["runs"] = res["runs"] + extra["runs"]
            res["seconds"] = res["seconds"] + extra["seconds"]
        unique = {(r["seed"], r["modality"], r["label_fraction"], r["init"]): r for r in res["runs"]}
        res["runs"] = list(unique.values())  # a cell run twice (main file and a part) counts once
        res["seeds"] = sorted({r["seed"] for r in res["runs"]})
        runs = res["runs"]
        n_test = sorted({r["n_test"] for r in runs})
        parts += [f"## {name}: `{res['sky']}`", "",
                  f"Pretrained checkpoint: `{res['checkpoint'] or 'cpu preset, seed 0, trained by this script'}`"
                  + (f" ({res['pretrain_seconds']} s)" if res.get("pretrain_seconds") else "") + ". "
                  f"Fine-tuning: at most {res['max_per_split'] or 'all'} objects per split, ≤ {res['epochs']} "
                  f"epochs, early stopping (patience {res['patience']}) on validation accuracy; seeds "
                  f"{res['seeds']}; test objects per modality {n_test}; {len(runs)} fine-tunes in "
                  f"{res['seconds']:.0f} s.", "", table(res), ""]
    notes = RESULTS / "classification_notes.md"
    if notes.exists():
        parts += [notes.read_text()]
    (RESULTS / "classification.md").write_text("\n".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", required=False)
    ap.add_argument("--name", choices=["demo", "crts"])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--workdir", default=str(ROOT / "demo" / "bench-classification"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    ap.add_argument("--modalities", nargs="+", default=None)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--max-per-split", type=int, default=1000)
    ap.add_argument("--markdown-only", action="store_true")
    ap.add_argument("--append", action="store_true", help="add to the runs already in the results file")
    ap.add_argument("--part", default="", help="write classification_NAME-PART.json (a process running in "
                    "parallel); the Markdown merges the parts")
    args = ap.parse_args()
    os.environ.setdefault("ASTROM3_PROGRESS", "0")
    if args.part:
        args.part = f"-{args.part}"
    if not args.markdown_only:
        run_sky(args)
    write_markdown()


if __name__ == "__main__":
    main()
