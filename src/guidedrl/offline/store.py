"""The local Minari store (Minari 0.5.x): naming, finding, opening, listing and describing datasets.

A dataset is named by its Minari id (``NAMESPACE/NAME-vN``) in the local store
(``MINARI_DATASETS_PATH``, else Minari's default ``~/.minari/datasets``) or by the path of its
directory. Nothing is downloaded unless asked (``download=True``). Reading a dataset into
transitions is :mod:`guidedrl.offline.datasets`; writing one, :mod:`guidedrl.offline.write`.

Minari is imported lazily, inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import gymnasium as gym
import numpy as np

from guidedrl.errors import DatasetError

COMMAND_KEY = "guidedrl_command"
"""Dataset metadata key of the command that made a dataset guidedrl wrote (Minari keeps extra keys)."""
VERSION_KEY = "guidedrl_version"
"""Dataset metadata key of the guidedrl version that wrote a dataset."""
GUIDE_RETURN_KEY = "guidedrl_guide_return"
"""Dataset metadata key of the built-in guide's own stored mean return, when a dataset is its rollouts."""
COLLECT_HINT = "guidedrl dataset collect --env ENV --policy guide|random|RUN_DIR|module:attr --episodes K --id {id}"


def import_minari():
    """The ``minari`` module, or a :class:`DatasetError` saying how to install it."""
    try:
        import minari
    except ImportError as error:
        raise DatasetError(
            f"offline datasets need Minari, which cannot be imported ({error}): pip install 'minari[hdf5]>=0.5,<0.6' "
            "(guidedrl's own dependencies include it)"
        ) from None
    return minari


def store_path() -> Path:
    """The local Minari store: ``MINARI_DATASETS_PATH``, else Minari's default ``~/.minari/datasets``."""
    import_minari()
    from minari.storage.datasets_root_dir import get_dataset_path

    return Path(get_dataset_path())


def parse_id(dataset_id: str) -> Tuple[Optional[str], str, Optional[int]]:
    """(namespace, name, version) of a Minari dataset id, or a :class:`DatasetError`.

    Minari 0.5.4's own parser raises a ``TypeError`` on an id without ``-vN`` (it converts the
    missing version with ``int(None)``); here a missing version is ``None``."""
    import_minari()
    from minari.dataset.minari_dataset import DATASET_ID_RE

    match = DATASET_ID_RE.fullmatch(dataset_id) if isinstance(dataset_id, str) else None
    if match is None:
        raise DatasetError(
            f"malformed dataset id {dataset_id!r}: expected NAMESPACE/NAME-vN (letters, digits, '-', '_'; "
            "the namespace may hold '/'), e.g. guidedrl/pendulum-lqr-v0"
        )
    namespace, name, version = match.group("namespace", "dataset", "version")
    return namespace or None, name, None if version is None else int(version)


def local_ids() -> List[str]:
    """The ids of the datasets in the local store, sorted (a misconfigured one is left out)."""
    minari = import_minari()
    with warnings.catch_warnings():  # Minari warns about each misconfigured dataset it skips
        warnings.simplefilter("ignore")
        return sorted(minari.list_local_datasets())


def locate(spec: str, download: bool = False) -> Path:
    """The data directory (the one holding ``metadata.json``) of the dataset ``spec``: the path
    of a dataset directory (or of its ``data/``), else an id in the local store, downloaded first
    only when ``download``."""
    minari = import_minari()
    path = Path(spec).expanduser()
    if path.is_dir():
        for candidate in (path / "data", path):
            if (candidate / "metadata.json").is_file():
                return candidate
    try:
        parse_id(spec)
    except DatasetError:
        if path.is_dir():
            raise DatasetError(f"{spec!r} is a directory but not a Minari dataset: no metadata.json in it or in "
                               f"{str(path / 'data')!r}") from None
        if path.exists():
            raise DatasetError(f"{spec!r} is a file; a Minari dataset is a directory (holding data/metadata.json) "
                               "or an id in the local store") from None
        raise
    from minari.storage.datasets_root_dir import get_dataset_path

    data = Path(get_dataset_path(spec)) / "data"
    if (data / "metadata.json").is_file():
        return data
    if download:
        try:
            minari.download_dataset(spec)
        except Exception as error:
            raise DatasetError(
                f"cannot download dataset {spec!r}: {type(error).__name__}: {' '.join(str(error).split())}"
            ) from None
        if (data / "metadata.json").is_file():
            return data
        raise DatasetError(f"downloading dataset {spec!r} left no metadata.json at {str(data)!r}")
    ids = local_ids()
    listed = ", ".join(ids) if ids else "none"
    raise DatasetError(
        f"no dataset {spec!r} in the local Minari store {str(store_path())!r} (MINARI_DATASETS_PATH); local "
        f"datasets: {listed}; make one with `{COLLECT_HINT.format(id=spec)}`, give a dataset directory's path, "
        f"or download a published one with `minari download {spec}`"
    )


def open_dataset(spec: str, download: bool = False):
    """The ``minari.MinariDataset`` that ``spec`` names (see :func:`locate`)."""
    minari = import_minari()
    data = locate(spec, download)
    try:
        return minari.MinariDataset(data)
    except ImportError as error:  # the storage's own package (h5py for HDF5, pyarrow for arrow)
        raise DatasetError(
            f"cannot read dataset {spec!r}: {error} (HDF5 datasets need h5py: pip install 'minari[hdf5]')"
        ) from None
    except Exception as error:
        raise DatasetError(
            f"cannot read dataset {spec!r} at {str(data)!r}: {type(error).__name__}: {' '.join(str(error).split())}"
        ) from None


def list_datasets() -> List[Tuple[str, int, int]]:
    """(id, episodes, steps) of each dataset in the local store, sorted by id."""
    minari = import_minari()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = minari.list_local_datasets()
    return [(dataset_id, int(meta.get("total_episodes", 0)), int(meta.get("total_steps", 0)))
            for dataset_id, meta in sorted(found.items())]


def dataset_info(spec: str) -> Dict[str, Any]:
    """What a dataset is and where it came from, JSON-ready: id, path, episodes, steps, the mean
    and standard deviation of the episode returns, its spaces, the env spec it records, Minari's
    provenance fields (algorithm_name, author, author_email, code_permalink, description) and the
    command that made it when guidedrl wrote it."""
    dataset = open_dataset(spec)
    meta = dataset.storage.metadata
    digest = hashlib.sha256()
    returns = []
    for episode in read_episodes(spec, dataset):
        returns.append(float(np.sum(episode.rewards)))
        for field in (episode.observations, episode.actions, episode.rewards, episode.terminations,
                      episode.truncations):
            _digest_values(digest, field)
    returns = np.asarray(returns, np.float64)
    env_spec = dataset.env_spec
    return {
        "id": dataset.id,
        "path": str(Path(dataset.storage.data_path).parent),
        "episodes": int(dataset.total_episodes),
        "steps": int(dataset.total_steps),
        "mean_return": float(returns.mean()) if returns.size else None,
        "std_return": float(returns.std()) if returns.size else None,
        "fingerprint": digest.hexdigest()[:16],
        "observation_space": _describe_space(dataset.observation_space),
        "action_space": _describe_space(dataset.action_space),
        "env_id": env_spec.id if env_spec is not None else None,
        "max_episode_steps": env_spec.max_episode_steps if env_spec is not None else None,
        "algorithm_name": meta.get("algorithm_name"),
        "author": sorted(meta["author"]) if meta.get("author") else None,
        "author_email": sorted(meta["author_email"]) if meta.get("author_email") else None,
        "code_permalink": meta.get("code_permalink"),
        "description": meta.get("description"),
        "command": meta.get(COMMAND_KEY),
        "guidedrl_version": meta.get(VERSION_KEY),
        "guide_return": meta.get(GUIDE_RETURN_KEY),
        "ref_min_score": meta.get("ref_min_score"),
        "ref_max_score": meta.get("ref_max_score"),
        "minari_version": meta.get("minari_version"),
        "data_format": meta.get("data_format"),
    }


def _digest_values(digest: Any, values: Any) -> None:
    """Feed an episode field (an array, or a dict or tuple of them) to ``digest`` by value: float64
    and int64 in C order, dict keys sorted, so the same transitions give the same fingerprint
    whatever the file's layout or timestamps."""
    if isinstance(values, dict):
        for key in sorted(values):
            digest.update(str(key).encode())
            _digest_values(digest, values[key])
    elif isinstance(values, (tuple, list)):
        for item in values:
            _digest_values(digest, item)
    else:
        array = np.asarray(values)
        kind = np.float64 if array.dtype.kind == "f" else np.int64
        digest.update(np.ascontiguousarray(array, dtype=kind).tobytes())
        digest.update(str(array.shape).encode())


def read_episodes(spec: str, dataset: Any) -> Iterator[Any]:
    """The dataset's episodes in order; one its storage cannot decode (a corrupt file, an episode
    the metadata counts but the file lacks) is a :class:`DatasetError` naming it."""
    iterator = iter(dataset.iterate_episodes())
    for index in dataset.episode_indices:
        try:
            episode = next(iterator)
        except Exception as error:
            raise DatasetError(f"dataset {spec!r}, episode {int(index)}: unreadable ({type(error).__name__}: "
                               f"{' '.join(str(error).split())})") from None
        yield episode


def _describe_space(space: Optional[gym.Space]) -> Optional[str]:
    return None if space is None else " ".join(repr(space).split())


__all__ = [
    "COMMAND_KEY", "VERSION_KEY", "GUIDE_RETURN_KEY", "COLLECT_HINT", "import_minari", "store_path", "parse_id",
    "local_ids", "locate", "open_dataset", "read_episodes", "list_datasets", "dataset_info",
]
