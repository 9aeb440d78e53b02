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


def paper_train_rate(sky, loaded, batch: int = 64, steps: int = 4) -> float:
    """Objects per second of contrastive training steps with ``loaded``'s model (after one warm-up step)."""
    import numpy as np
    import torch

    from core.data import SkyArrays

    data = SkyArrays(sky, sky.ids[: batch * (steps + 1)], loaded.preprocessor, loaded.modalities)
    model = loaded.model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    t = 0.0
    for k in range(steps + 1):
        start = time.perf_counter()
        out = model.loss(data.batch(np.arange(k * batch, (k + 1) * batch), rng=rng))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        if k:
            t += time.perf_counter() - start
    return batch * steps / t


def markdown(res: dict, torch_version: str) -> str:
    """benchmarks/results/train_embed.md from the benchmark's figures."""
    n_train = int(0.8 * res['n_objects'])
    lines = ["# Pretraining time and embedding throughput (cpu and paper presets)", "",
             f"Sky: `{res['sky']}` ({res['n_objects']} objects, each with a light curve and a spectrum). Machine: "
             f"{res['cpu_count']} CPU cores, torch {torch_version} with {res['torch_threads']} threads; load "
             f"average before {res['load_average_before']}, after {res['load_average_after']} (about 1 = this "
             f"benchmark alone). {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             "", "| measure | value | target |", "|---|---|---|"]
    if "cpu_train_seconds" in res:
        lines.append(f"| `train(preset='cpu', seed=0)` wall time (12 epochs over {n_train:,} training objects) | "
                     f"**{res['cpu_train_seconds']} s** | ≤ 600 s |")
    lines += [f"| `astrom3 embed` with the cpu preset (read + preprocess + infer + write) | "
              f"**{res['cpu_embed_objects_per_s']} objects/s** ({res['cpu_embed_seconds']} s for {res['n_objects']:,}) | ≥ 300 |",
              f"| embedding with the paper preset (random weights, {res['paper_embed_objects']} objects) | "
              f"{res['paper_embed_objects_per_s']} objects/s | — (a GPU preset) |",
              f"| training the paper preset (steps of batch 64 on the same objects) | "
              f"{res['paper_train_objects_per_s']} objects/s, i.e. ~{n_train / res['paper_train_objects_per_s'] / 60:.0f} "
              f"min per epoch of this sky | — |", "",
              "At that rate the paper preset's schedule (up to 100 epochs) would take more than a day on these 2 cores, which is why `cpu` is the default; "
              "with a GPU, `astrom3 train SKY --preset paper` uses it (CUDA when present).", ""]
    if "cpu_fingerprint" in res:
        same = res["cpu_fingerprint"] == res["shipped_fingerprint"]
        lines += [f"Reproducibility: the checkpoint trained here has fingerprint `{res['cpu_fingerprint']}`; the "
                  f"shipped one `{res['shipped_fingerprint']}`: "
                  + ("identical, so `benchmarks/make_default_checkpoint.py` reproduces it exactly." if same else
                     "different (another machine, library version or sky file)."), ""]
    return "\n".join(lines)


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
           "cpu_count": os.cpu_count(), "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    if not args.skip_train:
        from core.train import load_checkpoint
        t = time.perf_counter()
        ckpt = train(sky, workspace=work / "ws-cpu", preset="cpu", seed=0)
        res["cpu_train_seconds"] = round(time.perf_counter() - t, 1)
        res["cpu_fingerprint"] = load_checkpoint(ckpt).fingerprint
        res["shipped_fingerprint"] = load_checkpoint(DEFAULT_CHECKPOINT).fingerprint
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
    ck["preprocessing"]["sampling"] = paper.photometry.sampling
    ck["preprocessing"]["phase_harmonics"] = paper.photometry.phase_harmonics
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
    res["paper_train_objects_per_s"] = round(paper_train_rate(small_sky, loaded), 1)
    res["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(res, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_embed.json").write_text(json.dumps(res, indent=2))
    (out / "train_embed.md").write_text(markdown(res, torch.__version__))


if __name__ == "__main__":
    main()
