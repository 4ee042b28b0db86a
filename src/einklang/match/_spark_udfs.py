"""Jaro-Winkler for Spark as DuckDB computes it, so that both engines reach the same levels.

Splink's jar (``uk.gov.moj.dash.linkage.JaroWinklerSimilarity``, Apache Commons Text inside)
and DuckDB's ``jaro_winkler_similarity`` (a port of RapidFuzz's) are two algorithms, not two
roundings of one: for "maarie"/"maria" DuckDB gives 0.902 and the jar 0.876 (the jar counts half
transpositions, DuckDB whole ones), and they differ in about 8% of the pairs of German names
(bench/RESULTS_dedupe.md). The comparison levels' thresholds (0.8 to 0.92) were set on DuckDB,
so on Spark the similarity is RapidFuzz's, run as a vectorised (Arrow) UDF; it equals DuckDB's
to the last bit or two, which the thresholds' margin (:data:`einklang.match._sql.SIMILARITY_MARGIN`)
absorbs. Spark's Python workers need RapidFuzz, pandas and PyArrow, not einklang itself: the
functions travel to them by value.

No ``from __future__ import annotations`` here: PySpark reads the type hints of a pandas UDF.
"""

import sys
from typing import Any

import pandas as pd


def jaro_winkler_similarity(left: str | None, right: str | None) -> float | None:
    """DuckDB's ``jaro_winkler_similarity``: NULL with a NULL side, 0.0 with an empty side."""
    from rapidfuzz.distance import JaroWinkler

    if left is None or right is None:
        return None
    if not left or not right:
        return 0.0
    return float(JaroWinkler.similarity(left, right))


def jaro_winkler_series(left: pd.Series, right: pd.Series) -> pd.Series:
    return pd.Series([jaro_winkler_similarity(a, b) for a, b in zip(left, right, strict=True)], dtype="float64")


def register_jaro_winkler(spark: Any, name: str) -> None:
    """Register :func:`jaro_winkler_similarity` in ``spark``'s SQL as ``name`` (a pandas UDF)."""
    from pyspark import cloudpickle
    from pyspark.sql.pandas.functions import pandas_udf

    # By reference (cloudpickle's default for an importable module) a cluster's workers would
    # need einklang installed; found with a standalone cluster, whose workers' Python had not.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]
    spark.udf.register(name, pandas_udf(jaro_winkler_series, "double"))  # type: ignore[call-overload]
