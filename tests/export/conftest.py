import shutil

import pytest

from tests.conftest import DATA
from tests.export.test_runs import _train


@pytest.fixture(scope="session")
def small_iris_run(tmp_path_factory):
    """A two-epoch iris run for tests about the export machinery (not about the model): one
    training for all of them. Tests export from it and never write into it."""
    folder = tmp_path_factory.mktemp("iris_small")
    shutil.copy(DATA / "iris.csv", folder / "iris.csv")
    run, _, _ = _train(folder, "iris.csv", "mlp-classifier", epochs=2)
    return run
