"""The Spark configuration einklang starts a session with (no JVM is started here)."""

from __future__ import annotations

import sys

from einklang.match.backend import LOCAL_DRIVER_MEMORY, spark_settings, workers_python


def test_local_mode_gets_a_driver_heap_larger_than_sparks_default() -> None:
    settings = spark_settings("local[2]", {})
    assert settings["spark.driver.memory"] == LOCAL_DRIVER_MEMORY
    assert LOCAL_DRIVER_MEMORY != "1g"
    assert settings["spark.jars"].endswith(".jar")


def test_a_cluster_keeps_its_own_driver_memory() -> None:
    assert "spark.driver.memory" not in spark_settings("spark://master:7077", {})


def test_the_callers_settings_win() -> None:
    settings = spark_settings("local[*]", {"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "2"})
    assert settings["spark.driver.memory"] == "6g"
    assert settings["spark.sql.shuffle.partitions"] == "2"


def test_the_workers_python_named_in_the_settings_wins_over_the_environment() -> None:
    # A SparkContext started from Python reads only PYSPARK_PYTHON; the setting must reach it.
    settings = {"spark.pyspark.python": "/opt/einklang/bin/python"}
    assert workers_python("spark://master:7077", settings, "/usr/bin/python3") == "/opt/einklang/bin/python"


def test_local_workers_run_this_interpreter_a_clusters_keep_their_default() -> None:
    assert workers_python("local[2]", {}, None) == sys.executable
    assert workers_python("local[2]", {}, "/usr/bin/python3") == "/usr/bin/python3"
    assert workers_python("spark://master:7077", {}, None) is None


def test_spark_draws_no_stage_bars_on_stderr() -> None:
    assert spark_settings("local[2]", {})["spark.ui.showConsoleProgress"] == "false"
