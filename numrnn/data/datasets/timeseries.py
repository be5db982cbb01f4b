"""Real time series that ship with matplotlib (``mpl-data/sample_data``).

matplotlib (PSF-style matplotlib licence) bundles a few data files for its
gallery; two hold real price series, read here with NumPy and ``csv`` without
importing matplotlib:

* ``goog.npz``: Google's daily prices (open, high, low, close, volume, adjusted
  close) for the 1,047 trading days from 2004-08-19 (the IPO) to 2008-10-14.
* ``Stocks.csv``: monthly prices from Yahoo Finance, 1990-01 to 2022-06, for
  IBM, AAPL, MSFT, XRX, AMZN, DELL, GOOGL, ADBE and the S&P 500 (``^GSPC``) and
  NASDAQ Composite (``^IXIC``) indices; split-adjusted (AAPL starts at $0.24).
  Series start when the company was listed (AMZN 1997, GOOGL 2004, DELL 2016).
"""

from __future__ import annotations

import csv
import functools

import numpy as np

from ._package import distribution_file, require_distribution

__all__ = ["TIMESERIES", "load_timeseries"]

_DIST = "matplotlib"
_DIR = "matplotlib/mpl-data/sample_data"
_GOOG_FIELDS = ("open", "high", "low", "close", "volume", "adj_close")
_MONTHLY = {
    "ibm": "IBM",
    "aapl": "AAPL",
    "msft": "MSFT",
    "xrx": "XRX",
    "amzn": "AMZN",
    "dell": "DELL",
    "googl": "GOOGL",
    "adbe": "ADBE",
    "sp500": "^GSPC",
    "nasdaq": "^IXIC",
}

#: the names :func:`load_timeseries` accepts, with what they are
TIMESERIES = {
    "goog": "Google daily prices 2004-08-19..2008-10-14 (1,047 days; field= picks the column)",
    **{k: f"{v} monthly price 1990..2022 (Stocks.csv)" for k, v in _MONTHLY.items()},
}


def _dist():
    return require_distribution(_DIST, "load_timeseries()", "matplotlib")


@functools.lru_cache(maxsize=1)
def _goog():
    path = distribution_file(_dist(), f"{_DIR}/goog.npz", "load_timeseries()")
    with np.load(path, allow_pickle=False) as z:
        return z["price_data"].copy()


@functools.lru_cache(maxsize=1)
def _stocks():
    path = distribution_file(_dist(), f"{_DIR}/Stocks.csv", "load_timeseries()")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(line for line in f if not line.startswith("#")))
    header, body = rows[0], rows[1:]
    return header, body


def load_timeseries(name: str = "goog", field: str = "adj_close", return_dates: bool = False):
    """A real 1-D time series as float64.

    Args:
        name: ``"goog"`` (daily, default) or a monthly series from ``Stocks.csv``:
            ``"ibm"``, ``"aapl"``, ``"msft"``, ``"xrx"``, ``"amzn"``, ``"dell"``,
            ``"googl"``, ``"adbe"``, ``"sp500"``, ``"nasdaq"`` (see :data:`TIMESERIES`).
        field: for ``"goog"``: ``"adj_close"`` (default), ``"close"``, ``"open"``,
            ``"high"``, ``"low"`` or ``"volume"``.  Ignored for monthly series.
        return_dates: also return the dates, as ``datetime64[D]``.

    Returns:
        ``values`` of shape ``(N,)``, float64, in time order (no missing values:
        months before a listing are left out); or ``(dates, values)``.
        Goog: N = 1047; IBM/AAPL/MSFT/XRX/ADBE/indices: N = 391.  Cached in memory.

    Raises:
        MissingPackageError: matplotlib is not installed.
        ValueError: unknown ``name`` or ``field``.
    """
    key = str(name).lower()
    if key == "goog":
        if field not in _GOOG_FIELDS:
            raise ValueError(
                f"load_timeseries: field must be one of {_GOOG_FIELDS} for 'goog'; got {field!r}"
            )
        data = _goog()
        values = np.asarray(data[field], dtype=np.float64).copy()
        dates = np.asarray(data["date"], dtype="datetime64[D]").copy()
    elif key in _MONTHLY:
        header, body = _stocks()
        col = header.index(_MONTHLY[key])
        kept = [(r[0], float(r[col])) for r in body if len(r) > col and r[col].strip()]
        dates = np.array([d for d, _ in kept], dtype="datetime64[D]")
        values = np.array([v for _, v in kept], dtype=np.float64)
        order = np.argsort(dates, kind="stable")
        dates, values = dates[order], values[order]
    else:
        raise ValueError(f"load_timeseries: name must be one of {sorted(TIMESERIES)}; got {name!r}")
    return (dates, values) if return_dates else values
