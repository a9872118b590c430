"""Image-classification data as device arrays: sources, splits and validation."""

from __future__ import annotations

import gzip
import logging
import os
import pathlib
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

EMBEDDED_MNIST = pathlib.Path(__file__).parent / "data" / "mnist_train_10k.npz"
EMBEDDED_TRAIN_SPLIT = 8000  # of the 10,000 embedded images, the first 8,000 train
SOURCES = ("auto", "dir", "tfds", "embedded")
SPLITS = ("train", "holdout", "test")
DATA_DIR_ENV = "AUTOTRAIN_DATA_DIR"
_TFDS_NAMES = {"mnist": "mnist", "cifar10": "cifar10"}
_IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


@struct.dataclass
class Dataset:
    """The three disjoint splits an environment uses, as device arrays.

    The test split is never read by `step`; it exists for evaluation only.
    """

    train_x: jax.Array  # (N_train, H, W, C) uint8 or float32, the training subset
    train_y: jax.Array  # (N_train,) int32
    holdout_x: jax.Array  # (N_holdout, H, W, C), scored by Thresholdout
    holdout_y: jax.Array  # (N_holdout,) int32
    test_x: jax.Array  # (N_test, H, W, C), evaluation only
    test_y: jax.Array  # (N_test,) int32
    mean: jax.Array  # (C,) float32, per-channel mean of the training subset
    std: jax.Array  # (C,) float32, per-channel std of the training subset
    num_classes: int = struct.field(pytree_node=False, default=10)
    # Several datasets in one (`combine`): (D, 3, 2) int32, the (start, size) of
    # each one's train, holdout and test split; mean and std are then (D, C).
    segments: jax.Array | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape, e.g. (28, 28, 1)."""
        return tuple(self.train_x.shape[1:])

    @property
    def num_datasets(self) -> int:
        """How many datasets `combine` joined (1 for a single one)."""
        return 1 if self.segments is None else self.segments.shape[0]

    def segment(self, split: str, dataset=None) -> tuple:
        """(start, size) of `split` ("train", "holdout", "test") of one dataset:
        static ints for a single dataset, traced ones for a combined one."""
        if self.segments is None:
            return 0, getattr(self, f"{split}_y").shape[0]
        bounds = self.segments[dataset, SPLITS.index(split)]
        return bounds[0], bounds[1]

    def normalize(self, x: jax.Array, dataset=None) -> jax.Array:
        """Raw images [..., H, W, C] to standardised float32 (by the statistics
        of `dataset`'s training subset, in a combined Dataset)."""
        mean, std = self.mean, self.std
        if self.segments is not None:
            mean, std = mean[dataset], std[dataset]
        return (x.astype(jnp.float32) - mean) / std


def combine(datasets) -> Dataset:
    """One `Dataset` holding several of one image shape, for task distributions
    over datasets: each split is the concatenation, `segments` says where each
    dataset's part lies, and each keeps its own normalisation."""
    datasets = list(datasets)
    shapes = {(d.input_shape, d.num_classes) for d in datasets}
    if len(shapes) != 1:
        raise ValueError(
            f"datasets to combine must share image shape and classes, got {shapes}"
        )
    segments = []
    for split in SPLITS:
        sizes = np.array([getattr(d, f"{split}_y").shape[0] for d in datasets])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        segments.append(np.stack([starts, sizes], -1))
    fields = {}
    for split in SPLITS:
        for part in ("x", "y"):
            name = f"{split}_{part}"
            fields[name] = jnp.concatenate([getattr(d, name) for d in datasets])
    return Dataset(
        **fields,
        mean=jnp.stack([d.mean for d in datasets]),
        std=jnp.stack([d.std for d in datasets]),
        num_classes=datasets[0].num_classes,
        segments=jnp.asarray(np.stack(segments, 1), jnp.int32),
    )


def _as_images(x: np.ndarray, field: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(
            f"{field} must have shape (N, H, W) or (N, H, W, C), got {x.shape}"
        )
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"{field} must be uint8 or floating, got dtype {x.dtype}")
        if not np.isfinite(x).all():
            raise ValueError(f"{field} contains NaN or inf")
        x = x.astype(np.float32)
    return x


def _as_labels(y: np.ndarray, n: int, num_classes: int, field: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(
            f"{field} must have shape ({n},) to match the images, got {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{field} must hold integer labels, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{field} must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]"
        )
    return y.astype(np.int32)


def check_size(field: str, size) -> None:
    """Raises ValueError unless `size` is a fraction in (0, 1] or a count >= 1."""
    fraction = isinstance(size, float) and 0.0 < size <= 1.0
    count = isinstance(size, int) and not isinstance(size, bool) and size >= 1
    if not (fraction or count):
        raise ValueError(
            f"{field} must be a fraction in (0, 1] or a count >= 1, got {size!r}"
        )


def _resolve_size(field: str, size: int | float, available: int) -> int:
    check_size(field, size)
    count = int(round(size * available)) if isinstance(size, float) else size
    if count < 1:
        raise ValueError(f"{field}={size!r} leaves no examples of {available}")
    return count


def from_arrays(
    x: np.ndarray,
    y: np.ndarray,
    test_x: np.ndarray | None = None,
    test_y: np.ndarray | None = None,
    *,
    train_size: int | float = 0.2,
    holdout_size: int | float = 0.1,
    num_classes: int = 10,
    seed: int = 0,
) -> Dataset:
    """Builds a `Dataset` from a train split (and optionally a test split).

    The train split is shuffled with `seed`; its first `train_size` examples form
    the training subset and the next `holdout_size` the holdout. Sizes are a
    fraction of the train split or a count. Without a test split, the last 20% of
    `x` becomes the test split before anything else is drawn.
    """
    x = _as_images(x, "x")
    y = _as_labels(y, len(x), num_classes, "y")
    if (test_x is None) != (test_y is None):
        raise ValueError("test_x and test_y must be given together")
    if test_x is None:
        cut = int(len(x) * 0.8)
        x, y, test_x, test_y = x[:cut], y[:cut], x[cut:], y[cut:]
    test_x = _as_images(test_x, "test_x")
    test_y = _as_labels(test_y, len(test_x), num_classes, "test_y")
    if test_x.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"test_x images {test_x.shape[1:]} differ from x images {x.shape[1:]}"
        )
    n_train = _resolve_size("train_size", train_size, len(x))
    n_holdout = _resolve_size("holdout_size", holdout_size, len(x))
    if n_train + n_holdout > len(x):
        raise ValueError(
            f"train_size ({n_train}) + holdout_size ({n_holdout}) exceed the "
            f"train split ({len(x)} examples)"
        )
    order = np.random.default_rng(seed).permutation(len(x))
    train, holdout = order[:n_train], order[n_train : n_train + n_holdout]
    pixels = x[train].reshape(-1, x.shape[-1]).astype(np.float64)
    std = np.maximum(pixels.std(axis=0), 1e-6)
    return Dataset(
        train_x=jnp.asarray(x[train]),
        train_y=jnp.asarray(y[train]),
        holdout_x=jnp.asarray(x[holdout]),
        holdout_y=jnp.asarray(y[holdout]),
        test_x=jnp.asarray(test_x),
        test_y=jnp.asarray(test_y),
        mean=jnp.asarray(pixels.mean(axis=0), jnp.float32),
        std=jnp.asarray(std, jnp.float32),
        num_classes=num_classes,
    )


def read_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads `x` and `y` from an `.npz` file, with an error naming the file."""
    try:
        with np.load(path) as npz:
            missing = {"x", "y"} - set(npz.files)
            if missing:
                raise ValueError(f"{path}: missing arrays {sorted(missing)}")
            return npz["x"], npz["y"]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        if isinstance(error, ValueError) and str(path) in str(error):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({error})") from error


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one (optionally gzipped) idx file, the raw MNIST format."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable idx file ({error})") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4).astype(int)
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated, expected {tuple(dims)} bytes")
    return body.reshape(dims)


def _find(directory: pathlib.Path, stem: str) -> pathlib.Path | None:
    matches = sorted(directory.glob(stem))
    return matches[0] if matches else None


def load_dir(directory: str | os.PathLike, name: str):
    """Raw (train_x, train_y, test_x, test_y) from `.npz` or idx files in a folder.

    Looks for `{name}_train*.npz` and `{name}_test.npz` (a test file alone is
    split 80/20 into train and test), else the four MNIST idx files. Returns None
    when the folder holds neither.
    """
    directory = pathlib.Path(directory)
    train, test = (
        _find(directory, f"{name}_train*.npz"),
        _find(directory, f"{name}_test.npz"),
    )
    if test is not None:
        test_x, test_y = read_npz(test)
        if train is None:
            cut = int(len(test_x) * 0.8)
            return test_x[:cut], test_y[:cut], test_x[cut:], test_y[cut:]
        return (*read_npz(train), test_x, test_y)
    idx = {k: _find(directory, f"{stem}*") for k, stem in _IDX_FILES.items()}
    if all(idx.values()):
        return tuple(read_idx(idx[k]) for k in _IDX_FILES)
    return None


def _load_tfds(name: str, data_dir: str | None, download: bool):
    try:
        import tensorflow_datasets as tfds  # lazy: heavy, and optional at run time
    except ImportError:
        if download:
            raise
        return None
    if not download:
        # tfds logs a warning for every missing copy it looks for ("Variant folder
        # ... has no dataset_info.json"); a missing copy is the normal case here
        absl_logger = logging.getLogger("absl")
        level = absl_logger.level
        absl_logger.setLevel(logging.ERROR)
        try:
            prepared = tfds.builder(name, data_dir=data_dir).is_prepared()
        finally:
            absl_logger.setLevel(level)
        if not prepared:
            return None
    splits = tfds.data_source(
        name, split=["train", "test"], data_dir=data_dir, download=download
    )
    arrays = []
    for split in splits:
        examples = [split[i] for i in range(len(split))]
        arrays.append(np.stack([e["image"] for e in examples]))
        arrays.append(np.array([e["label"] for e in examples]))
    return tuple(arrays)


def _embedded():
    x, y = read_npz(EMBEDDED_MNIST)
    cut = EMBEDDED_TRAIN_SPLIT
    return x[:cut], y[:cut], x[cut:], y[cut:]


def load_dataset(
    name: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    **split_kwargs,
) -> Dataset:
    """Loads a named dataset from the first source that has it.

    Sources, in `auto` order: a folder (`data_dir` or ${AUTOTRAIN_DATA_DIR}) of
    `.npz` or idx files; tensorflow-datasets, if already prepared (`tfds` alone
    may download); the real MNIST subset embedded in the package (the first
    10,000 images of MNIST's *train* split: 8,000 as the train split, 2,000 as
    the test split; MNIST's own test split stays unseen by anything that trains).

    Args:
      name: dataset name, e.g. `mnist`, `cifar10`, `notmnist`.
      data_dir: folder to read; defaults to ${AUTOTRAIN_DATA_DIR}.
      source: one of `SOURCES`.
      **split_kwargs: passed to `from_arrays` (train_size, holdout_size, seed).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    arrays = None
    if source in ("auto", "dir") and data_dir:
        if not pathlib.Path(data_dir).is_dir():
            raise ValueError(f"data_dir {str(data_dir)!r} is not a directory")
        arrays = load_dir(data_dir, name)
    if arrays is None and source in ("auto", "tfds") and name in _TFDS_NAMES:
        tfds_dir = None if source == "auto" else data_dir
        arrays = _load_tfds(_TFDS_NAMES[name], tfds_dir, download=source == "tfds")
    if arrays is None and source in ("auto", "embedded") and name == "mnist":
        arrays = _embedded()
    if arrays is None:
        raise ValueError(
            f"no data found for dataset {name!r} (source={source!r}). Provide it as "
            f"{name}_train.npz / {name}_test.npz (arrays x, y) or MNIST idx files in "
            f"data_dir or ${DATA_DIR_ENV}; or prepare it with tensorflow-datasets "
            "(tfds.data_source(..., download=True) once online); or build it from "
            "arrays with autotrain_jax.from_arrays(x, y). Only mnist is embedded."
        )
    return from_arrays(*arrays[:2], *arrays[2:], **split_kwargs)
