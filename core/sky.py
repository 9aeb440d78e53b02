"""The sky: the project's on-disk format and its validated, lazy reader.

A sky is a directory holding

``objects.parquet``
    one row per object: ``id`` (string, unique), ``label`` (string or null), metadata columns
    (floats; AstroM3 names, see :mod:`core.schema`), optional ``ra``, ``dec``, ``name`` and text.
``lightcurves.parquet`` (optional)
    one row per object: ``id``, ``time`` (days) and ``mag`` + ``mag_err`` and/or ``flux`` +
    ``flux_err`` as list columns; optional ``band``.
``spectra.parquet`` (optional)
    one row per object: ``id``, ``wavelength`` (Angstrom), ``flux`` and ``flux_err`` or ``ivar``.
``truth.parquet`` (simulated skies only)
    what the simulator planted; analysis code never reads it.

:func:`open_sky` checks the tables' structure and ids at once (reading only the ``id`` columns of
the large files), and checks each light curve and spectrum when it is read, so a million-object sky
opens in seconds. :func:`validate_sky` scans everything. :class:`SkyWriter` writes a sky atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core import schema
from core.errors import SkyValidationError
from core.progress import progress

__all__ = [
    "LightCurve", "Spectrum", "Sky", "SkySummary", "SkyWarning", "SkyWriter",
    "open_sky", "validate_sky", "write_sky",
]


class SkyWarning(UserWarning):
    """Something in a sky was repaired on read (e.g. unsorted times were sorted)."""


def phase_of(time, period: float, epoch: float = 0.0) -> np.ndarray:
    """Phase in [0, 1) of times ``time`` (days) at ``period``, counted from ``epoch``: the one folding formula.

    :meth:`LightCurve.phase` / :meth:`LightCurve.fold`, the preprocessing's phase channels and the
    simulator's string-length statistic all fold through it.
    """
    return np.mod((np.asarray(time, dtype=float) - epoch) / period, 1.0)


@dataclass(frozen=True)
class LightCurve:
    """One object's light curve.

    ``value``/``error`` hold magnitudes when ``kind == "mag"`` and fluxes when ``kind == "flux"``.
    Times are finite and sorted.
    """

    id: str
    time: np.ndarray
    value: np.ndarray
    error: np.ndarray
    kind: str = "mag"
    band: str | None = None
    meta: dict = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.time)

    @property
    def span(self) -> float:
        """Time span in days."""
        return float(self.time[-1] - self.time[0]) if len(self.time) else 0.0

    @property
    def magnitudes(self) -> np.ndarray:
        """The values as magnitudes (fluxes converted with ``-2.5 log10``)."""
        if self.kind == "flux":
            return -2.5 * np.log10(np.clip(np.asarray(self.value, float), 1e-12, None))
        return np.asarray(self.value, float)

    def phase(self, period: float, epoch: float | None = None) -> np.ndarray:
        """Phase in [0, 1) of every point at ``period`` (days); ``epoch`` defaults to maximum light."""
        if not np.isfinite(period) or period <= 0:
            raise ValueError(f"period must be positive, not {period!r}")
        if epoch is None:
            epoch = float(self.time[np.argmin(self.magnitudes)]) if len(self) else 0.0
        return phase_of(self.time, period, epoch)

    def fold(self, period: float, epoch: float | None = None) -> LightCurve:
        """A new light curve with ``time`` = phase in [0, 1), sorted; ``meta["fold"]`` says how.

        Examples
        --------
        >>> lc = LightCurve("x", np.array([0.0, 0.25, 1.0]), np.array([1.0, 2.0, 1.0]), np.ones(3))
        >>> f = lc.fold(1.0)
        >>> f.time.tolist(), f.meta["fold"]
        ([0.0, 0.0, 0.25], {'period': 1.0, 'epoch': 0.0})
        """
        if epoch is None:
            epoch = float(self.time[np.argmin(self.magnitudes)]) if len(self) else 0.0
        ph = self.phase(period, epoch)
        order = np.argsort(ph, kind="stable")
        return replace(self, time=ph[order], value=np.asarray(self.value)[order], error=np.asarray(self.error)[order],
                       meta={**self.meta, "fold": {"period": float(period), "epoch": float(epoch)}})

    def normalize(self) -> LightCurve:
        """A new light curve in units of its 5-95 % range around the median (magnitudes; ``meta["normalize"]``)."""
        m = self.magnitudes
        med = float(np.median(m)) if len(m) else 0.0
        amp = float(np.percentile(m, 95) - np.percentile(m, 5)) if len(m) else 0.0
        scale = amp if amp > 0 else 1.0
        return replace(self, value=(m - med) / scale, error=np.asarray(self.error, float) / scale, kind="mag",
                       meta={**self.meta, "normalize": {"median": med, "amplitude": amp}})

    def periodogram(self, min_period: float = 0.05, max_period: float | None = None,
                    n: int = 5000) -> tuple[np.ndarray, np.ndarray]:
        """Lomb-Scargle power (astropy) on a log grid of periods; returns ``(periods, power)``.

        ``max_period`` defaults to half the time span.
        """
        from astropy.timeseries import LombScargle

        t, y, e = np.asarray(self.time, float), self.magnitudes, np.asarray(self.error, float)
        ok = np.isfinite(t) & np.isfinite(y)
        e = np.where(np.isfinite(e) & (e > 0), e, np.nan)
        dy = e[ok] if np.isfinite(e[ok]).all() else None
        span = float(t[ok].max() - t[ok].min()) if ok.sum() > 1 else 1.0
        max_period = max_period or max(span / 2, min_period * 2)
        periods = np.geomspace(min_period, max_period, n)
        power = LombScargle(t[ok], y[ok], dy).power(1.0 / periods)
        return periods, np.asarray(power, float)

    def best_period(self, min_period: float = 0.05, max_period: float | None = None) -> float | None:
        """The period of the highest Lomb-Scargle peak on astropy's own frequency grid
        (five samples per peak, so short periods of long light curves are resolved); None for
        fewer than 10 points."""
        from astropy.timeseries import LombScargle

        if len(self) < 10 or self.span <= 0:
            return None
        max_period = max_period or self.span
        e = np.asarray(self.error, float)
        ls = LombScargle(self.time, self.magnitudes, e if np.all(np.isfinite(e) & (e > 0)) else None)
        freq, power = ls.autopower(minimum_frequency=1.0 / max_period, maximum_frequency=1.0 / min_period,
                                   samples_per_peak=5)
        return float(1.0 / freq[int(np.argmax(power))])


@dataclass(frozen=True)
class Spectrum:
    """One object's spectrum: wavelength (Angstrom, increasing), flux and 1-sigma error.

    Errors come from ``flux_err`` or from ``1/sqrt(ivar)`` (infinite where ``ivar == 0``).
    """

    id: str
    wavelength: np.ndarray
    flux: np.ndarray
    error: np.ndarray

    def __len__(self) -> int:
        return len(self.wavelength)


@dataclass
class SkySummary:
    """What :func:`validate_sky` found: counts, coverage and ranges."""

    path: str
    n_objects: int
    labels: dict[str, int]
    n_unlabelled: int
    n_lightcurves: int
    n_spectra: int
    has_truth: bool
    epochs: dict[str, float] = field(default_factory=dict)
    span_days: dict[str, float] = field(default_factory=dict)
    wavelength_range: tuple[float, float] | None = None
    spectrum_pixels: dict[str, float] = field(default_factory=dict)
    metadata_columns: list[str] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)

    def to_text(self) -> str:
        """A human-readable report."""
        n = max(self.n_objects, 1)
        lines = [f"sky {self.path}: {self.n_objects} objects"]
        parts = [f"{k} {v}" for k, v in self.labels.items()]
        if self.n_unlabelled:
            parts.append(f"unlabelled {self.n_unlabelled}")
        lines.append("  labels: " + (", ".join(parts) or "none"))
        lines.append(f"  light curves: {self.n_lightcurves} ({100 * self.n_lightcurves / n:.1f}%)")
        if self.epochs:
            e, s = self.epochs, self.span_days
            lines.append(f"    epochs min/median/max: {e['min']:.0f} / {e['median']:.0f} / {e['max']:.0f};"
                         f" span median {s['median']:.0f} d")
        lines.append(f"  spectra: {self.n_spectra} ({100 * self.n_spectra / n:.1f}%)")
        if self.wavelength_range:
            lo, hi = self.wavelength_range
            lines.append(f"    wavelength {lo:.0f}-{hi:.0f} A; pixels median {self.spectrum_pixels['median']:.0f}")
        lines.append(f"  metadata columns: {len(self.metadata_columns)}"
                     + (f" ({', '.join(self.metadata_columns[:8])}{', ...' if len(self.metadata_columns) > 8 else ''})"
                        if self.metadata_columns else ""))
        for what, count in self.repaired.items():
            lines.append(f"  repaired on read: {count} {what}")
        lines.append(f"  truth table: {'yes' if self.has_truth else 'no'}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------------

def _read_parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise SkyValidationError(path, f"cannot be read as parquet ({type(exc).__name__}: {exc})",
                                 expected="a parquet file written by pyarrow/pandas") from None


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_numeric_list(t: pa.DataType) -> bool:
    return (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)) \
        and _is_numeric(t.value_type)


class _ListTable:
    """Lazy access to a table of per-object list columns (light curves or spectra)."""

    def __init__(self, path: Path, kind: str, known_ids: pa.Array):
        self.path = path
        self.kind = kind
        self.file = _read_parquet_file(path)
        self.arrow_schema = self.file.schema_arrow
        names = self.arrow_schema.names
        if kind == "lightcurves":
            self.axis = "time"
            pairs = [p for p in schema.LIGHTCURVE_VALUE_PAIRS if p[0] in names]
            if not pairs:
                raise SkyValidationError(path, "no brightness column", column="mag",
                                         expected="list columns 'mag' + 'mag_err' or 'flux' + 'flux_err'")
            self.value, self.error = pairs[0]
            self.err_is_ivar = False
        else:
            self.axis = "wavelength"
            self.value = "flux"
            errs = [c for c in schema.SPECTRUM_ERROR_COLUMNS if c in names]
            self.error = errs[0] if errs else None
            self.err_is_ivar = self.error == "ivar"
            if self.error is None:
                raise SkyValidationError(path, "missing required column", column="flux_err",
                                         expected="list column 'flux_err' or 'ivar'")
        for col in ("id", self.axis, self.value, self.error):
            if col not in names:
                raise SkyValidationError(path, "missing required column", column=col,
                                         expected=f"columns {['id', self.axis, self.value, self.error]}")
        if not _is_text(self.arrow_schema.field("id").type):
            raise SkyValidationError(path, f"wrong dtype {self.arrow_schema.field('id').type}", column="id",
                                     ids=_column_values(self.file, "id"),
                                     expected="string ids (the same as in objects.parquet)")
        for col in (self.axis, self.value, self.error):
            t = self.arrow_schema.field(col).type
            if not _is_numeric_list(t):
                raise SkyValidationError(path, f"wrong dtype {t}", column=col, ids=_column_values(self.file, "id"),
                                         expected="a list of numbers per object (list<double>)")
        self.band = "band" if "band" in names else None
        self.columns = [c for c in ("id", self.axis, self.value, self.error, self.band) if c]

        # Id checks in Arrow compute (C++): pandas' isin on Arrow-backed strings loops in Python
        # (36 s for a 1M-object sky, against well under a second here).
        try:
            col = self.file.read(columns=["id"]).column("id").combine_chunks()
        except Exception as exc:
            raise SkyValidationError(path, f"cannot be read ({exc})") from None
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        col = col.cast(pa.string())
        if col.null_count:
            raise SkyValidationError(path, "null id", column="id",
                                     rows=np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False)),
                                     expected="every row to have an id")
        if pc.count_distinct(col).as_py() < len(col):
            ids = pd.Series(col.to_pylist(), dtype=object)
            raise SkyValidationError(path, "duplicate ids", column="id", ids=ids[ids.duplicated()].unique(),
                                     expected="one row per object")
        unknown = pc.invert(pc.is_in(col, value_set=known_ids))
        if pc.any(unknown).as_py():
            raise SkyValidationError(path, "ids not in objects.parquet", column="id",
                                     ids=col.filter(unknown).to_pylist(),
                                     expected="every id to have a row in objects.parquet")
        ids = col.to_numpy(zero_copy_only=False)
        self.ids = pd.Index(ids, dtype=object, name="id")
        self.row_of = pd.Series(np.arange(len(ids)), index=self.ids)
        md = self.file.metadata
        sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
        self.group_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._cache: OrderedDict[int, pa.Table] = OrderedDict()

    def __len__(self) -> int:
        return len(self.ids)

    def _group(self, g: int) -> pa.Table:
        if g in self._cache:
            self._cache.move_to_end(g)
            return self._cache[g]
        table = self.file.read_row_group(g, columns=self.columns)
        self._cache[g] = table
        if len(self._cache) > 2:
            self._cache.popitem(last=False)
        return table

    def read(self, object_id: str):
        """Read one object's record (validated), or None if the object has none."""
        row = self.row_of.get(object_id)
        if row is None:
            return None
        g = int(np.searchsorted(self.group_starts, row, side="right") - 1)
        table = self._group(g).slice(int(row - self.group_starts[g]), 1)
        return self._records(table, first_row=int(row))[0]

    def iter_records(self, ids: Iterable[str] | None = None, batch_size: int = 1024,
                     desc: str | None = None) -> Iterator:
        """Yield validated records in file order, optionally only those in ``ids``.

        With ``ids``, only the row groups holding one of them are read, so streaming a block of
        objects that lie together in the file costs that block, not the whole file.
        """
        value_set, groups, total = None, None, len(self)
        if ids is not None:
            found = self.row_of.reindex(pd.Index([str(i) for i in ids], dtype=object).unique()).dropna()
            value_set = pa.array(found.index.to_numpy(dtype=object), pa.string())
            rows = found.to_numpy(dtype=np.int64)
            groups = np.unique(np.searchsorted(self.group_starts, rows, side="right") - 1).tolist()
            total = len(found)
        bar = progress(desc=desc or f"reading {self.kind}", total=total, unit="obj")
        with bar:
            for first_row, table in self._batches(groups, batch_size):
                if value_set is not None:
                    mask = pc.is_in(table.column("id"), value_set=value_set)
                    rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
                    if len(rows) == 0:
                        continue
                    sub = table.take(pa.array(rows))
                    records = self._records(sub, first_row=first_row, row_numbers=first_row + rows)
                else:
                    records = self._records(table, first_row=first_row)
                bar.update(len(records))
                yield from records

    def _batches(self, groups: list[int] | None, batch_size: int) -> Iterator[tuple[int, pa.Table]]:
        """``(first row, table)`` of each batch of the row groups ``groups`` (all if None), in file order."""
        for g in [None] if groups is None else groups:
            first = 0 if g is None else int(self.group_starts[g])
            which = None if g is None else [int(g)]
            for batch in self.file.iter_batches(batch_size=batch_size, row_groups=which, columns=self.columns):
                yield first, pa.Table.from_batches([batch])
                first += batch.num_rows

    def _records(self, table: pa.Table, first_row: int, row_numbers=None) -> list:
        """Validate a slice of rows (vectorised) and build record objects."""
        check_list_columns(table, self.path, self.axis, self.value, self.error, first_row,
                           row_numbers=row_numbers, error_is_ivar=self.err_is_ivar)
        ids = table.column("id").to_pylist()
        axis, value, error = (table.column(c).combine_chunks() for c in (self.axis, self.value, self.error))
        offsets = np.asarray(axis.offsets) if hasattr(axis, "offsets") else None
        x = _flat(axis)
        v = _flat(value)
        e = _flat(error)
        bands = table.column(self.band).to_pylist() if self.band else [None] * len(ids)
        if offsets is None:  # fixed-size lists
            n = axis.type.list_size
            offsets = np.arange(len(ids) + 1) * n
        out, unsorted = [], []
        for i, oid in enumerate(ids):
            a, b = int(offsets[i] - offsets[0]), int(offsets[i + 1] - offsets[0])
            xi, vi, ei = x[a:b], v[a:b], e[a:b]
            if np.any(np.diff(xi) < 0):
                order = np.argsort(xi, kind="stable")
                xi, vi, ei = xi[order], vi[order], ei[order]
                unsorted.append(oid)
            if self.kind == "lightcurves":
                out.append(LightCurve(oid, xi, vi, ei, kind=self.value, band=bands[i]))
            else:
                if self.err_is_ivar:
                    with np.errstate(divide="ignore"):
                        ei = np.where(ei > 0, 1.0 / np.sqrt(np.where(ei > 0, ei, 1.0)), np.inf)
                out.append(Spectrum(oid, xi, vi, ei))
        if unsorted:
            warnings.warn(SkyWarning(
                f"{self.path.name}: {self.axis} not sorted for {len(unsorted)} object(s) "
                f"(e.g. {unsorted[:3]}); sorted on read"), stacklevel=3)
        return out


def _flat(arr: pa.Array) -> np.ndarray:
    """Flatten a (list) array to float64 numpy, respecting the slice offset."""
    return np.asarray(arr.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)


def check_list_columns(table: pa.Table, path: Path, axis: str, value: str, error: str | None,
                       first_row: int, *, row_numbers=None, error_is_ivar: bool = False) -> None:
    """Vectorised checks of a block of per-object list rows; raise :class:`SkyValidationError`.

    Checks: nulls, empty lists, equal list lengths across ``axis``/``value``/``error``, finite axis
    and values, non-negative errors. ``first_row``/``row_numbers`` are accepted for callers
    that report rows; ids are what the messages name.
    """
    ids = np.asarray(table.column("id").to_pylist(), dtype=object)
    cols = [c for c in (axis, value, error) if c]
    lengths = {}
    for c in cols:
        col = table.column(c)
        if col.null_count:
            bad = np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))
            raise SkyValidationError(path, "null list", column=c, ids=ids[bad],
                                     expected="a list per object (drop the row if the object has no data)")
        lengths[c] = pc.list_value_length(col).to_numpy(zero_copy_only=False)
    n_axis = lengths[axis]
    empty = np.flatnonzero(n_axis == 0)
    if len(empty):
        raise SkyValidationError(path, "empty list", column=axis, ids=ids[empty],
                                 expected="at least one point (drop the row if the object has no data)")
    for c in cols[1:]:
        bad = np.flatnonzero(lengths[c] != n_axis)
        if len(bad):
            i = bad[0]
            raise SkyValidationError(path, f"list length {lengths[c][i]} differs from '{axis}' ({n_axis[i]})",
                                     column=c, ids=ids[bad], expected=f"'{c}' and '{axis}' of equal length")
    row_id = np.repeat(np.arange(len(ids)), n_axis)
    x = _flat(table.column(axis).combine_chunks())
    bad = np.unique(row_id[~np.isfinite(x)])
    if len(bad):
        raise SkyValidationError(path, "non-finite values", column=axis, ids=ids[bad],
                                 expected=f"finite {axis}s (remove those points)")
    v = _flat(table.column(value).combine_chunks())
    bad = np.unique(row_id[~np.isfinite(v)])
    if len(bad):
        raise SkyValidationError(path, "non-finite values", column=value, ids=ids[bad],
                                 expected=f"finite {value} (remove or mask those points)")
    if error:
        e = _flat(table.column(error).combine_chunks())
        bad = np.unique(row_id[(e < 0) | np.isnan(e)])
        if len(bad):
            what = "inverse variances" if error_is_ivar else "errors"
            raise SkyValidationError(path, f"negative or NaN {what}", column=error, ids=ids[bad],
                                     expected=f"{what} >= 0")


class Sky:
    """A validated sky, with light curves and spectra read lazily per object.

    Use :func:`open_sky` to get one.

    Attributes
    ----------
    path : Path
        The sky directory.
    objects : pandas.DataFrame
        ``objects.parquet`` in file order (``id`` and ``label`` as strings, label may be null).
    """

    def __init__(self, path: Path, objects: pd.DataFrame, lightcurves: _ListTable | None,
                 spectra: _ListTable | None):
        self.path = path
        self.objects = objects
        self._lc = lightcurves
        self._sp = spectra
        self._fingerprint: str | None = None
        self._row_of: pd.Index | None = None

    def __repr__(self) -> str:
        return (f"Sky({str(self.path)!r}: {len(self)} objects, {self.n_lightcurves} light curves, "
                f"{self.n_spectra} spectra)")

    def __len__(self) -> int:
        return len(self.objects)

    @property
    def ids(self) -> pd.Index:
        """Object ids in file order."""
        return pd.Index(self.objects["id"], name="id")

    @property
    def labels(self) -> pd.Series:
        """Labels indexed by id (null for unlabelled objects)."""
        return pd.Series(self.objects["label"].to_numpy(), index=self.ids, name="label", dtype=object)

    @property
    def classes(self) -> list[str]:
        """The label set: known AstroM3 classes first (in their order), then others sorted."""
        present = set(self.objects["label"].dropna().unique())
        return [c for c in schema.CLASSES if c in present] + sorted(present - set(schema.CLASSES))

    @property
    def metadata_columns(self) -> list[str]:
        """Numeric catalogue columns usable as metadata (AstroM3 ones first)."""
        numeric = [c for c in self.objects.columns
                   if c not in ("id", "label") and pd.api.types.is_numeric_dtype(self.objects[c])]
        known = [c for c in (*schema.METADATA_COLUMNS, *schema.PHOTO_COLUMNS) if c in numeric]
        return known + [c for c in numeric if c not in known and c not in ("ra", "dec")]

    # --- modalities -------------------------------------------------------------------------
    @property
    def has_lightcurves(self) -> bool:
        return self._lc is not None and len(self._lc) > 0

    @property
    def has_spectra(self) -> bool:
        return self._sp is not None and len(self._sp) > 0

    @property
    def has_metadata(self) -> bool:
        return len(self.metadata_columns) > 0

    @property
    def n_lightcurves(self) -> int:
        return 0 if self._lc is None else len(self._lc)

    @property
    def n_spectra(self) -> int:
        return 0 if self._sp is None else len(self._sp)

    @property
    def lightcurve_ids(self) -> pd.Index:
        return self._lc.ids if self._lc is not None else pd.Index([], name="id")

    @property
    def spectrum_ids(self) -> pd.Index:
        return self._sp.ids if self._sp is not None else pd.Index([], name="id")

    @property
    def lightcurve_row_groups(self) -> np.ndarray:
        """Rows of ``lightcurves.parquet`` where each of its row groups starts, then its row count
        (``[0]`` without light curves); blocks of objects cut there are read without overlap."""
        return self._lc.group_starts.copy() if self._lc is not None else np.zeros(1, dtype=np.int64)

    def object(self, object_id: str) -> pd.Series:
        """One object's catalogue row, looked up by index (``KeyError`` for an unknown id)."""
        if self._row_of is None:
            self._row_of = pd.Index(self.objects["id"].astype(str))
        i = self._row_of.get_indexer([str(object_id)])[0]
        if i < 0:
            raise KeyError(f"object id {object_id!r} is not in {self.path}")
        return self.objects.iloc[i]

    def lightcurves(self, ids: Iterable[str]) -> list[LightCurve | None]:
        """The light curves of ``ids``, in that order (None where an object has none)."""
        ids = [str(i) for i in ids]
        got = {lc.id: lc for lc in self.iter_lightcurves(ids=ids)}
        return [got.get(i) for i in ids]

    def lightcurve(self, object_id: str) -> LightCurve | None:
        """One object's light curve, or None if it has none."""
        return None if self._lc is None else self._lc.read(str(object_id))

    def spectrum(self, object_id: str) -> Spectrum | None:
        """One object's spectrum, or None if it has none."""
        return None if self._sp is None else self._sp.read(str(object_id))

    def iter_lightcurves(self, ids: Iterable[str] | None = None, batch_size: int = 1024) -> Iterator[LightCurve]:
        """Stream light curves in file order (only those in ``ids`` if given), a batch in memory at a time."""
        if self._lc is None:
            return iter(())
        return self._lc.iter_records(ids, batch_size=batch_size)

    def iter_spectra(self, ids: Iterable[str] | None = None, batch_size: int = 256) -> Iterator[Spectrum]:
        """Stream spectra in file order (only those in ``ids`` if given)."""
        if self._sp is None:
            return iter(())
        return self._sp.iter_records(ids, batch_size=batch_size)

    def read_truth(self) -> pd.DataFrame | None:
        """The simulator's truth table, or None. For evaluation only; analysis never calls this."""
        p = self.path / schema.TRUTH_FILE
        if not p.exists():
            return None
        return _read_parquet_file(p).read().to_pandas()

    @property
    def fingerprint(self) -> str:
        """Content hash of the sky's data files (cached by size and modification time)."""
        if self._fingerprint is None:
            files = [self.path / f for f in (schema.OBJECTS_FILE, schema.LIGHTCURVES_FILE, schema.SPECTRA_FILE)]
            h = hashlib.sha256()
            for f in files:
                if f.exists():
                    h.update(f.name.encode())
                    h.update(file_fingerprint(f).encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint


_FP_CACHE: dict[tuple, str] = {}


def file_fingerprint(path: Path) -> str:
    """SHA-256 of a file's bytes (memoised per process by path, size and mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FP_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        _FP_CACHE[key] = h.hexdigest()
    return _FP_CACHE[key]


def _column_values(file: pq.ParquetFile, col: str) -> list[str]:
    """A column's values as text (to name the offending ids in dtype errors); [] if unreadable."""
    try:
        return [str(v) for v in file.read(columns=[col]).column(col).to_pylist()]
    except Exception:
        return []


def _parses_as_float(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _load_objects(path: Path) -> pd.DataFrame:
    file = _read_parquet_file(path)
    sch = file.schema_arrow
    for col in schema.OBJECTS_REQUIRED:
        if col not in sch.names:
            raise SkyValidationError(path, "missing required column", column=col,
                                     expected=f"columns {list(schema.OBJECTS_REQUIRED)} (label may be null)")
    for col in ("id", "label"):
        t = sch.field(col).type
        if pa.types.is_dictionary(t):  # pandas categoricals
            t = t.value_type
        if not (_is_text(t) or pa.types.is_null(t) and col == "label"):
            bad_ids = _column_values(file, "id")
            if col == "label" and _is_text(sch.field("id").type):
                labels = file.read(columns=["label"]).column("label").to_pylist()
                bad_ids = [i for i, v in zip(bad_ids, labels) if v is not None]
            raise SkyValidationError(path, f"wrong dtype {t}", column=col, ids=bad_ids, expected="strings")
    for col in (*schema.METADATA_COLUMNS, *schema.PHOTO_COLUMNS, "ra", "dec"):
        if col in sch.names:
            t = sch.field(col).type
            if not (_is_numeric(t) or pa.types.is_null(t)):
                ids = _column_values(file, "id")
                values = file.read(columns=[col]).column(col).to_pylist()
                bad_ids = [i for i, v in zip(ids, values) if v is not None and not _parses_as_float(v)]
                raise SkyValidationError(path, f"wrong dtype {t}", column=col, ids=bad_ids or ids,
                                         expected="numbers (float)")
    try:
        df = file.read().to_pandas()
    except Exception as exc:
        raise SkyValidationError(path, f"cannot be read ({exc})") from None
    if df["id"].isna().any():
        raise SkyValidationError(path, "null id", column="id", rows=np.flatnonzero(df["id"].isna()),
                                 expected="every object to have an id")
    df["id"] = df["id"].astype(str)
    dup = df.loc[df["id"].duplicated(), "id"]
    if len(dup):
        raise SkyValidationError(path, "duplicate ids", column="id", ids=dup.unique(), expected="unique ids")
    df["label"] = _labels_as_objects(df["label"])
    return df.reset_index(drop=True)


def _labels_as_objects(labels: pd.Series) -> pd.Series:
    """Labels as an object column of str or None (pandas would otherwise turn None into NaN)."""
    out = labels.astype(object)
    return out.where(out.map(lambda v: isinstance(v, str)).astype(bool), None)


def open_sky(path: str | os.PathLike) -> Sky:
    """Open and validate a sky directory.

    Checks the structure, dtypes and ids of every file; light curves and spectra are checked when
    read (use :func:`validate_sky` to scan them all now).

    Parameters
    ----------
    path : str or path-like
        The sky directory.

    Returns
    -------
    Sky

    Raises
    ------
    SkyValidationError
        Naming the file, column and offending ids, and what is expected.
    """
    path = Path(path)
    if not path.is_dir():
        raise SkyValidationError(path, "not a directory", expected="a sky directory holding objects.parquet")
    obj_path = path / schema.OBJECTS_FILE
    if not obj_path.exists():
        raise SkyValidationError(obj_path, "file missing",
                                 expected="objects.parquet with one row per object (id, label, metadata)")
    objects = _load_objects(obj_path)
    known = pa.array(objects["id"].to_numpy(dtype=object), pa.string())
    lc_path, sp_path = path / schema.LIGHTCURVES_FILE, path / schema.SPECTRA_FILE
    lc = _ListTable(lc_path, "lightcurves", known) if lc_path.exists() else None
    sp = _ListTable(sp_path, "spectra", known) if sp_path.exists() else None
    return Sky(path, objects, lc, sp)


def _summary_stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values, dtype=float)
    return {"min": float(a.min()), "median": float(np.median(a)), "max": float(a.max())}


def validate_sky(path: str | os.PathLike) -> SkySummary:
    """Scan a whole sky (every light curve and spectrum) and summarise it.

    Raises :class:`SkyValidationError` on the first malformed block, naming file, column and ids.
    """
    sky = open_sky(path)
    n_epochs, spans, n_pix = [], [], []
    wl_lo, wl_hi = np.inf, -np.inf
    repaired = Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkyWarning)
        for lc in sky.iter_lightcurves():
            n_epochs.append(len(lc))
            spans.append(lc.span)
        for sp in sky.iter_spectra():
            n_pix.append(len(sp))
            wl_lo, wl_hi = min(wl_lo, float(sp.wavelength[0])), max(wl_hi, float(sp.wavelength[-1]))
    for w in caught:
        if issubclass(w.category, SkyWarning):
            repaired["blocks with unsorted time/wavelength (sorted)"] += 1
    labels = sky.objects["label"].value_counts()
    order = [c for c in sky.classes if c in labels.index]
    return SkySummary(
        path=str(sky.path), n_objects=len(sky),
        labels={c: int(labels[c]) for c in order},
        n_unlabelled=int(sky.objects["label"].isna().sum()),
        n_lightcurves=sky.n_lightcurves, n_spectra=sky.n_spectra,
        has_truth=(sky.path / schema.TRUTH_FILE).exists(),
        epochs=_summary_stats(n_epochs), span_days=_summary_stats(spans),
        wavelength_range=(wl_lo, wl_hi) if n_pix else None,
        spectrum_pixels=_summary_stats(n_pix),
        metadata_columns=sky.metadata_columns, repaired=dict(repaired),
    )


# ------------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------------

_LIST_F64 = pa.list_(pa.float64())
_LIST_F32 = pa.list_(pa.float32())


def _to_table(data, kind: str) -> pa.Table:
    """A DataFrame/dict/Arrow batch of per-object rows → an Arrow table with the sky's list types."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pd.DataFrame):
        data = {c: data[c].tolist() for c in data.columns}
    if isinstance(data, dict):
        axis = "time" if kind == "lightcurves" else "wavelength"
        arrays, names = [], []
        for name, col in data.items():
            if name in ("id", "band"):
                arr = pa.array([None if v is None else str(v) for v in col], pa.string())
            elif name == axis:
                arr = pa.array([np.asarray(v, dtype=np.float64) for v in col], _LIST_F64)
            else:
                arr = pa.array([np.asarray(v, dtype=np.float32) for v in col], _LIST_F32)
            arrays.append(arr)
            names.append(name)
        data = pa.Table.from_arrays(arrays, names=names)
    return data


class SkyWriter:
    """Write a sky atomically: everything goes to a temporary sibling directory, renamed on success.

    Light curves and spectra may be written in several batches (bounded memory).

    Examples
    --------
    >>> with SkyWriter("out/sky") as w:                                    # doctest: +SKIP
    ...     w.write_objects(objects_df)
    ...     for batch in batches:
    ...         w.write_lightcurves(batch)    # DataFrame: id, time, mag, mag_err (lists)
    """

    ROW_GROUP = {"lightcurves": 1000, "spectra": 256}

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False):
        self.path = Path(path)
        self.overwrite = overwrite
        self.tmp = self.path.parent / f".{self.path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.metadata: dict[str, str] = {}

    def __enter__(self) -> SkyWriter:
        if self.path.exists() and not self.overwrite:
            raise SkyValidationError(self.path, "already exists", expected="a new path, or overwrite=True (--force)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir()
        return self

    def write_objects(self, objects: pd.DataFrame) -> None:
        """Write ``objects.parquet`` (must have ``id`` and ``label``)."""
        df = objects.copy()
        df["id"] = df["id"].astype(str)
        df["label"] = _labels_as_objects(df["label"])
        table = pa.Table.from_pandas(df, preserve_index=False)
        if self.metadata:
            table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                                   b"astrom3": json.dumps(self.metadata).encode()})
        pq.write_table(table, self.tmp / schema.OBJECTS_FILE)

    def write_truth(self, truth: pd.DataFrame) -> None:
        """Write ``truth.parquet`` (simulated skies only)."""
        pq.write_table(pa.Table.from_pandas(truth.reset_index(drop=True), preserve_index=False),
                       self.tmp / schema.TRUTH_FILE)

    def _append(self, kind: str, data) -> None:
        table = _to_table(data, kind)
        w = self._writers.get(kind)
        if w is None:
            fname = schema.LIGHTCURVES_FILE if kind == "lightcurves" else schema.SPECTRA_FILE
            w = pq.ParquetWriter(self.tmp / fname, table.schema, compression="zstd")
            self._writers[kind] = w
        else:
            table = table.cast(w.schema)
        w.write_table(table, row_group_size=self.ROW_GROUP[kind])

    def write_lightcurves(self, data) -> None:
        """Append light curves: ``id``, ``time`` and ``mag``/``mag_err`` or ``flux``/``flux_err`` lists."""
        self._append("lightcurves", data)

    def write_spectra(self, data) -> None:
        """Append spectra: ``id``, ``wavelength``, ``flux`` and ``flux_err`` or ``ivar`` lists."""
        self._append("spectra", data)

    def __exit__(self, exc_type, exc, tb) -> None:
        for w in self._writers.values():
            w.close()
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            open_sky(self.tmp)  # never publish a sky that does not open
        except Exception:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        if self.path.exists():
            old = self.path.parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
            self.path.rename(old)
            self.tmp.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            self.tmp.rename(self.path)


def write_sky(path: str | os.PathLike, objects: pd.DataFrame, lightcurves=None, spectra=None,
              truth: pd.DataFrame | None = None, *, overwrite: bool = False) -> Path:
    """Write a whole sky at once (atomically). See :class:`SkyWriter` for the column layout."""
    with SkyWriter(path, overwrite=overwrite) as w:
        w.write_objects(objects)
        if lightcurves is not None and len(lightcurves):
            w.write_lightcurves(lightcurves)
        if spectra is not None and len(spectra):
            w.write_spectra(spectra)
        if truth is not None:
            w.write_truth(truth)
    return Path(path)
