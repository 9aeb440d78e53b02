"""AstroM3 Explorer core library: skies, the trimodal model, embeddings, discovery, flags.

Never imports Panel, HoloViews or Bokeh. Heavy submodules are imported on first use, so
``import core`` is cheap::

    import core
    sky = core.open_sky("demo/sky")
    sky.lightcurve(sky.ids[0])
"""
from __future__ import annotations

import importlib

# public name -> module that defines it
_EXPORTS = {
    "open_sky": "core.sky", "validate_sky": "core.sky", "write_sky": "core.sky",
    "Sky": "core.sky", "SkyWriter": "core.sky", "LightCurve": "core.sky", "Spectrum": "core.sky",
    "AstroM3Error": "core.errors", "SkyValidationError": "core.errors",
    "Workspace": "core.workspace",
    "simulate_sky": "core.simulate",
    "import_sky": "core.io",
    "train": "core.train", "finetune": "core.train", "load_checkpoint": "core.train",
    "embed": "core.embed",
    "analyze": "core.analysis", "similar": "core.analysis", "subclasses": "core.analysis",
    "evaluate": "core.analysis",
    "FlagStore": "core.flags",
    "ReviewSession": "core.review",
    "object_links": "core.links", "crossmatch": "core.links",
    "read_id_list": "core.idlist", "flag_ids": "core.idlist",
    "SampLink": "core.samp",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
