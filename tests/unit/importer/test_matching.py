"""Choosing and configuring the engine of ``einklang dedupe`` (no Spark started here)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from einklang.cli import app
from einklang.config_models import DedupeConfig
from einklang.importer.matching import spark_settings_option, spark_worker_failure


def test_spark_conf_options_become_settings() -> None:
    settings = spark_settings_option(["spark.executor.memory=4g", " spark.pyspark.python =/opt/py/bin/python"])
    assert settings == {"spark.executor.memory": "4g", "spark.pyspark.python": "/opt/py/bin/python"}
    # A value may hold "=" (Java options do)
    assert spark_settings_option(["spark.executor.extraJavaOptions=-Da=b"]) == {
        "spark.executor.extraJavaOptions": "-Da=b"
    }


@pytest.mark.parametrize("value", ["spark.executor.memory", "=4g", ""])
def test_a_spark_conf_without_key_and_value_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        spark_settings_option([value])


def test_the_dedupe_command_refuses_a_malformed_spark_conf() -> None:
    result = CliRunner().invoke(app, ["dedupe", "x.csv", "--engine", "spark", "--spark-conf", "spark.executor.memory"])
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_the_configuration_carries_spark_settings() -> None:
    config = DedupeConfig.model_validate(
        {"engine": "spark", "spark_master": "spark://m:7077", "spark_config": {"spark.executor.memory": "8g"}}
    )
    assert config.spark_config == {"spark.executor.memory": "8g"}
    assert DedupeConfig().spark_config == {}


class PythonException(Exception):
    """The shape of pyspark.errors.PythonException: the worker's traceback in the message."""


def test_a_worker_without_a_module_gets_advice_not_a_traceback() -> None:
    error = PythonException(
        "An exception was thrown from the Python worker: Traceback (most recent call last):\n"
        '  File "worker.py", line 75, in read_command\n'
        "ModuleNotFoundError: No module named 'pandas'\n SQLSTATE: 38000"
    )
    advice = spark_worker_failure(error)
    assert advice is not None
    assert "cannot import pandas" in advice
    assert "spark.pyspark.python" in advice


def test_other_errors_are_left_to_the_general_handler() -> None:
    assert spark_worker_failure(PythonException("ZeroDivisionError: division by zero")) is None
    assert spark_worker_failure(RuntimeError("No module named 'pandas'")) is None
