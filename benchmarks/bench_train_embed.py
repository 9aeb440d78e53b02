"""Train time of the ``cpu`` preset on the 20k demo sky, and embedding throughput (objects/s) for
the ``cpu`` and ``paper`` presets. Writes benchmarks/results/train_embed.md and .json.

    .venv/bin/python benchmarks/bench_train_embed.py [--sky demo/sky20k-s0] [--skip-train]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sky", default=str(ROOT / "demo" / "sky20k-s0"))
    ap.add_argument("--workdir", default=str(ROOT / "demo" / "bench-train-embed"))
    ap.add_argument("--skip-train", action="store_true", help="time embedding with the shipped checkpoint only")
    ap.add_argument("--paper-objects", type=int, default=1000, help="objects embedded with the paper preset")
    args = ap.parse_args()
    os.environ.setdefault("ASTROM3_PROGRESS", "0")

    import torch

    from core.data import split_ids  # noqa: F401  (import cost outside the timings)
    from core.embed import embed, embed_arrays
    from core.sky import open_sky, write_sky
    from core.train import DEFAULT_CHECKPOINT, LoadedModel, train, _build, _read_checkpoint

    sky = open_sky(args.sky)
    work = Path(args.workdir)
    res = {"sky": str(args.sky), "n_objects": len(sky), "torch_threads": torch.get_num_threads(),
           "cpu_count": os.cpu_count()}
    if not args.skip_train:
        t = time.perf_counter()
        ckpt = train(sky, workspace=work / "ws-cpu", preset="cpu", seed=0)
        res["cpu_train_seconds"] = round(time.perf_counter() - t, 1)
    else:
        ckpt = DEFAULT_CHECKPOINT
    t = time.perf_counter()
    embed(sky, ckpt, work / "ws-embed", force=True)
    dt = time.perf_counter() - t
    res["cpu_embed_seconds"] = round(dt, 1)
    res["cpu_embed_objects_per_s"] = round(len(sky) / dt, 1)

    # paper preset: random weights (speed does not depend on them), on a subset of the sky
    ck = _read_checkpoint(Path(ckpt))
    from core.model.config import get_preset
    paper = get_preset("paper")
    ck["config"] = paper.to_dict()
    ck["preprocessing"]["seq_len"] = paper.photometry.seq_len
    ck["preprocessing"]["grid"] = [paper.spectra.lo, paper.spectra.hi, paper.spectra.step]
    cfg, prep, model = _build(ck)
    model.eval()
    loaded = LoadedModel(model=model, config=cfg, fingerprint="paper-random", modalities=ck["modalities"],
                         preprocessor=prep, sky_fingerprint="", versions={})
    sub_ids = list(sky.ids[: args.paper_objects])
    objects = sky.objects.iloc[: args.paper_objects]
    lcs = [lc for lc in sky.iter_lightcurves(ids=sub_ids)]
    sps = [sp for sp in sky.iter_spectra(ids=sub_ids)]
    import pandas as pd
    small = write_sky(work / "paper-subset", objects,
                      pd.DataFrame({"id": [x.id for x in lcs], "time": [x.time for x in lcs],
                                    "mag": [x.value for x in lcs], "mag_err": [x.error for x in lcs]}) if lcs else None,
                      pd.DataFrame({"id": [x.id for x in sps], "wavelength": [x.wavelength for x in sps],
                                    "flux": [x.flux for x in sps], "flux_err": [x.error for x in sps]}) if sps else None,
                      overwrite=True)
    small_sky = open_sky(small)
    t = time.perf_counter()
    embed_arrays(small_sky, loaded, batch_size=256)
    dt = time.perf_counter() - t
    res["paper_embed_objects"] = len(small_sky)
    res["paper_embed_objects_per_s"] = round(len(small_sky) / dt, 1)
    print(json.dumps(res, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_embed.json").write_text(json.dumps(res, indent=2))
    lines = ["# Pretraining time and embedding throughput", "",
             f"Sky: `{args.sky}` ({len(sky)} objects). Machine: 2 CPU cores (torch threads "
             f"{res['torch_threads']}), shared with other agents' work running at the same time, so these are floors.",
             "", "| measure | value |", "|---|---|"]
    if "cpu_train_seconds" in res:
        lines.append(f"| `astrom3 train --preset cpu` wall time | {res['cpu_train_seconds']} s |")
    lines += [f"| `astrom3 embed` with the cpu preset | {res['cpu_embed_objects_per_s']} objects/s "
              f"({res['cpu_embed_seconds']} s for {len(sky)}) |",
              f"| embedding with the paper preset | {res['paper_embed_objects_per_s']} objects/s "
              f"(on {res['paper_embed_objects']} objects) |", ""]
    (out / "train_embed.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
