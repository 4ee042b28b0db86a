"""``einklang dedupe --engine spark`` against a Spark cluster, not local mode.

A standalone cluster (one master, one worker, each its own JVM, started from PySpark's own
``spark-class``) runs on this machine; einklang's driver talks to it over ``spark://`` and the
worker starts executors and Python workers of its own, as on a real cluster. This is what local
mode cannot show: that the Jaro-Winkler UDF reaches workers that do not share the driver's
interpreter, and that ``--spark-conf spark.pyspark.python=...`` names theirs. The driver and the
worker share this machine's folders, as docs/scale.md asks of a cluster (a shared path).

Needs PySpark and Java 17; without them the test skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.conftest import database_server_missing, free_port

pytestmark = pytest.mark.integration

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from data.german_contacts import generate  # noqa: E402

STARTED = 180.0  # seconds for a JVM to come up on a busy 2-core machine (about 10 s when idle)


def _spark_class() -> Path:
    try:
        from pyspark.find_spark_home import _find_spark_home
    except ImportError:
        database_server_missing("PySpark is not installed (pip install 'einklang[spark]')")
    if shutil.which("java") is None:
        database_server_missing("Java is not installed (Spark needs Java 17: apt install openjdk-17-jre-headless)")
    return Path(_find_spark_home()) / "bin" / "spark-class"


def _start(command: list[str], log: Path, ready: str, environment: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )
    deadline = time.monotonic() + STARTED
    while time.monotonic() < deadline:
        if ready in log.read_text(encoding="utf-8", errors="replace"):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.5)
    _stop(process)
    pytest.fail(f"{command[1]} did not report {ready!r}; its log:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    spark_class = str(_spark_class())
    folder = tmp_path_factory.mktemp("spark-cluster")
    environment = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(folder)}
    port = free_port()
    master_url = f"spark://127.0.0.1:{port}"
    ui = ["--webui-port", str(free_port())]
    master = _start(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), *ui],
        folder / "master.log",
        "I have been elected leader",
        environment,
    )
    resources = ["--cores", "2", "--memory", "1g", "--work-dir", str(folder / "work")]
    resources += ["--webui-port", str(free_port())]
    try:
        worker = _start(
            [spark_class, "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1", *resources],
            folder / "worker.log",
            "Successfully registered with master",
            environment,
        )
        try:
            yield master_url
        finally:
            _stop(worker)
    finally:
        _stop(master)


def _einklang(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The workers' Python must come from --spark-conf, not from a PYSPARK_PYTHON this test
    # process may have set for local mode (einklang.match.spark_session does that).
    environment = {k: v for k, v in os.environ.items() if k != "PYSPARK_PYTHON"}
    environment["SPARK_LOCAL_IP"] = "127.0.0.1"
    return subprocess.run(
        [sys.executable, "-m", "einklang", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _contacts_parquet(path: Path, count: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [{k: v for k, v in r.items() if k != "entity"} for r in generate(count, seed=seed, hard=True)]
    columns = sorted({key for record in records for key in record})
    pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in records]), path)


def _dedupe_on(cluster: str, folder: Path, python: Path | str, *settings: str) -> subprocess.CompletedProcess[str]:
    options = ["--spark-master", cluster, "--spark-conf", f"spark.pyspark.python={python}"]
    for setting in settings:
        options += ["--spark-conf", setting]
    return _einklang("dedupe", "in.parquet", "--engine", "spark", *options, "--out", "cluster.csv", cwd=folder)


def test_dedupe_on_a_standalone_cluster_gives_duckdbs_pairs(spark_cluster: str, tmp_path: Path) -> None:
    _contacts_parquet(tmp_path / "in.parquet", 300, seed=21)
    on_duckdb = _einklang("dedupe", "in.parquet", "--out", "duckdb.csv", cwd=tmp_path)
    assert on_duckdb.returncode == 0, on_duckdb.stderr
    on_cluster = _dedupe_on(spark_cluster, tmp_path, sys.executable, "spark.executor.memory=1g")
    assert on_cluster.returncode == 0, on_cluster.stderr[-5000:]
    pairs = sorted((tmp_path / "duckdb.csv").read_text(encoding="utf-8").splitlines())
    assert len(pairs) > 50
    assert sorted((tmp_path / "cluster.csv").read_text(encoding="utf-8").splitlines()) == pairs
    assert "[Stage" not in on_cluster.stderr  # Spark's own progress bars stay off


def test_workers_without_the_libraries_get_advice_not_a_traceback(spark_cluster: str, tmp_path: Path) -> None:
    import venv

    # A Python of the driver's version without RapidFuzz, pandas or PyArrow: what a cluster
    # node's "python3" usually is.
    venv.EnvBuilder(with_pip=False).create(tmp_path / "bare")
    _contacts_parquet(tmp_path / "in.parquet", 40, seed=3)
    result = _dedupe_on(spark_cluster, tmp_path, tmp_path / "bare" / "bin" / "python", "spark.task.maxFailures=1")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Spark's Python workers cannot import "), result.stderr[-3000:]
    assert "spark.pyspark.python" in last
