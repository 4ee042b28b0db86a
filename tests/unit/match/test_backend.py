"""The Spark configuration einklang starts a session with (no JVM is started here)."""

from __future__ import annotations

from einklang.match.backend import LOCAL_DRIVER_MEMORY, spark_settings


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
