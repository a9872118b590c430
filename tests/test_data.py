"""Data sources, splits and their errors."""

import gzip
import logging
import pathlib
import time

import numpy as np
import pytest

import autotrain_jax as at
from autotrain_jax.data import EMBEDDED_MNIST, load_dir, read_idx, read_npz


def images(n, seed=0, shape=(28, 28, 1)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), np.uint8), rng.integers(0, 10, n)


def test_embedded_mnist_is_real_and_split_disjointly():
    data = at.load_dataset("mnist", source="embedded")
    assert data.train_x.shape == (1600, 28, 28, 1)  # 20% of the 8000-image split
    assert data.holdout_x.shape == (800, 28, 28, 1)
    assert data.test_x.shape == (2000, 28, 28, 1)
    assert float(data.mean[0]) == pytest.approx(33.3, abs=2.0)  # MNIST mean 0.13 x 255
    train = {bytes(x) for x in np.asarray(data.train_x)}
    holdout = {bytes(x) for x in np.asarray(data.holdout_x)}
    assert not train & holdout
    np.testing.assert_array_equal(
        np.bincount(np.asarray(data.test_y), minlength=10) > 150, True
    )


def test_from_arrays_sizes_seed_and_test_split():
    x, y = images(1000)
    data = at.from_arrays(x, y, train_size=100, holdout_size=0.5, seed=3)
    assert (len(data.train_y), len(data.holdout_y), len(data.test_y)) == (100, 400, 200)
    again = at.from_arrays(x, y, train_size=100, holdout_size=0.5, seed=3)
    np.testing.assert_array_equal(data.train_x, again.train_x)
    gray = at.from_arrays(x[..., 0].astype(np.float32) / 255, y, train_size=10)
    assert gray.input_shape == (28, 28, 1) and gray.train_x.dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": np.full(1000, 10)}, r"y must lie in \[0, 10\)"),
        ({"y": np.zeros(999, int)}, r"y must have shape \(1000,\)"),
        ({"y": np.zeros(1000, np.float32)}, "integer labels"),
        ({"x": np.zeros((1000, 5), np.uint8)}, "x must have shape"),
        ({"x": np.full((1000, 4, 4), np.nan)}, "NaN"),
        ({"train_size": 700, "holdout_size": 200}, "exceed the train split"),
        ({"holdout_size": -1}, "holdout_size"),
        (
            {"test_x": np.zeros((5, 3, 3), np.uint8), "test_y": np.zeros(5, int)},
            "differ",
        ),
    ],
)
def test_from_arrays_rejects_bad_input(kwargs, message):
    x, y = images(1000)
    arguments = {"x": x, "y": y, **kwargs}
    with pytest.raises(ValueError, match=message):
        at.from_arrays(**arguments)


def test_npz_directory_and_corrupt_files(tmp_path):
    x, y = images(500)
    np.savez(tmp_path / "toy_train.npz", x=x, y=y)
    np.savez(tmp_path / "toy_test.npz", x=x[:100], y=y[:100])
    data = at.load_dataset("toy", tmp_path, train_size=50, holdout_size=50)
    assert data.test_x.shape == (100, 28, 28, 1)
    np.savez(tmp_path / "lone_test.npz", x=x, y=y)  # a test file alone is split
    assert load_dir(tmp_path, "lone")[0].shape == (400, 28, 28, 1)

    raw = (tmp_path / "toy_train.npz").read_bytes()
    (tmp_path / "cut_train.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "cut_test.npz").write_bytes(raw)
    with pytest.raises(ValueError, match="cut_train.npz"):
        at.load_dataset("cut", tmp_path)
    np.savez(tmp_path / "nolabels_test.npz", x=x)
    with pytest.raises(ValueError, match=r"nolabels_test.npz: missing arrays \['y'\]"):
        read_npz(tmp_path / "nolabels_test.npz")


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def test_idx_files(tmp_path):
    x, y = images(300)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x[:200, ..., 0])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y[:200])
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", x[200:, ..., 0])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y[200:])
    data = at.load_dataset("mnist", tmp_path, source="dir", train_size=100)
    assert data.test_x.shape == (100, 28, 28, 1)
    np.testing.assert_array_equal(
        read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz"), y[200:]
    )
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz") as file:
        raw = file.read()
    (tmp_path / "bad-idx").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="bad-idx: truncated"):
        read_idx(tmp_path / "bad-idx")


def test_tfds_source_with_mock_data():
    import tensorflow_datasets as tfds  # a core dependency, slow to import

    with tfds.testing.mock_data(num_examples=40):
        data = at.load_dataset("mnist", source="tfds", train_size=10, holdout_size=10)
    assert data.train_x.shape == (10, 28, 28, 1) and data.test_y.shape == (40,)


def test_missing_data_fails_fast_naming_the_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    start = time.time()
    with pytest.raises(
        ValueError, match="no data found for dataset 'cifar10'"
    ) as error:
        at.load_dataset("cifar10", tmp_path)
    assert time.time() - start < 10
    for way in ("cifar10_train.npz", "tensorflow-datasets", "from_arrays"):
        assert way in str(error.value)


def test_embedded_file_is_present():
    x, y = read_npz(EMBEDDED_MNIST)
    assert x.shape == (10000, 28, 28, 1) and y.shape == (10000,)


SHARED_DATA = pathlib.Path(__file__).parents[2] / "shared" / "data"


def test_embedded_mnist_comes_from_the_train_split_not_the_test_split():
    x, y = read_npz(EMBEDDED_MNIST)
    # the class counts of MNIST train's first 10,000 (t10k's are 980, 1135, ...)
    counts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    np.testing.assert_array_equal(np.bincount(y, minlength=10), counts)
    if not (SHARED_DATA / "mnist_test.npz").exists():
        pytest.skip("the team's shared/data is not beside this checkout")
    test_x, _ = read_npz(SHARED_DATA / "mnist_test.npz")
    train_x, train_y = read_npz(SHARED_DATA / "mnist_train.npz")
    np.testing.assert_array_equal(x, train_x[:10000])
    np.testing.assert_array_equal(y, train_y[:10000])
    assert not {bytes(image) for image in x} & {bytes(image) for image in test_x}


def test_the_offline_default_loads_without_warnings(caplog, monkeypatch):
    """No tfds copy prepared is the normal case here, not worth a warning."""
    monkeypatch.delenv("AUTOTRAIN_DATA_DIR", raising=False)
    with caplog.at_level(logging.WARNING):
        data = at.load_dataset("mnist", train_size=64, holdout_size=32)
    assert data.train_x.shape[0] == 64
    assert [r.getMessage() for r in caplog.records] == []
