"""Readers: turn survey files into the project's sky layout (``astrom3 import``).

One thin module per source; every reader is registered here, in :data:`READERS`, and writes the
sky atomically through :class:`core.sky.SkyWriter` (a failed import leaves nothing behind).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from core.errors import AstroM3Error

#: Reader name -> (module under core.io, one-line description).
READERS: dict[str, tuple[str, str]] = {
    "astrom3": ("core.io.astrom3", "AstroM3 dataset parquet (photometry, spectra, metadata, label)"),
    "asassn": ("core.io.asassn", "ASAS-SN light-curve CSV files (one per star) + catalogue CSV"),
    "lamost": ("core.io.lamost", "LAMOST low-resolution FITS spectra (.fits/.fits.gz) [+ catalogue CSV]"),
    "crts": ("core.io.crts", "Catalina/CRTS .dat light curves (MJD, mag, err) + catalogue CSV"),
}


def list_readers() -> dict[str, str]:
    """Reader names and their one-line descriptions."""
    return {name: desc for name, (_, desc) in READERS.items()}


def get_reader(name: str):
    """The ``read(src, writer, **options)`` function of reader ``name``."""
    if name not in READERS:
        raise AstroM3Error(f"unknown import format {name!r}; choose one of {', '.join(READERS)}")
    return importlib.import_module(READERS[name][0]).read


def _check_options(format: str, read, options: dict) -> None:
    """Refuse options the reader does not take (they would otherwise vanish silently)."""
    import inspect

    known = [n for n, p in inspect.signature(read).parameters.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(known))
    if unknown:
        takes = ", ".join(known) or "no options"
        raise AstroM3Error(f"the {format!r} reader does not take {', '.join(unknown)} (it takes: {takes})")


def import_sky(format: str, src: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False,
               **options) -> Path:
    """Read survey files with reader ``format`` and write a sky at ``out`` (atomically).

    Parameters
    ----------
    format : str
        A key of :data:`READERS` ("astrom3", "asassn", "lamost", "crts").
    src : path-like
        The input file or directory.
    out : path-like
        The sky directory to create.
    overwrite : bool
        Replace ``out`` if it exists.
    **options
        Reader options, e.g. ``catalog`` (catalogue CSV), ``keep_unmatched`` (keep objects that
        have data but no catalogue row, unlabelled).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    AstroM3Error
        Naming the file, row/column and what is expected. Nothing is written then.
    """
    from core.sky import SkyWriter

    read = get_reader(format)
    _check_options(format, read, options)
    src = Path(src)
    if not src.exists():
        raise AstroM3Error(f"{src}: does not exist")
    with SkyWriter(out, overwrite=overwrite) as writer:
        writer.metadata = {"source": format, "src": src.name}
        read(src, writer, **options)
    return Path(out)


__all__ = ["READERS", "get_reader", "import_sky", "list_readers"]
