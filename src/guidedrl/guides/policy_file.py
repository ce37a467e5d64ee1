"""A trained actor as a small guide file: its weights in msgpack, its provenance in JSON.

``export_policy(run, path)`` writes ``path.msgpack`` (the actor's dense layers, NumPy arrays
serialised by Flax's msgpack, no pickle) and ``path.json`` (env, dimensions, how it was made,
its measured return). ``from_policy_file(path, confidence)`` loads it back as a Guide whose
policy is the deterministic actor evaluated in NumPy: no JAX call per step, so a guide costs
microseconds on the host.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from guidedrl.guides.base import Guide, GuideError
from guidedrl.guides.regions import always

FORMAT = "guidedrl-policy/1"


def _paths(path: Union[str, os.PathLike]):
    base = Path(path)
    if base.suffix in (".msgpack", ".json"):
        base = base.with_suffix("")
    return base.with_suffix(".msgpack"), base.with_suffix(".json")


def export_policy(run: Any, path: Union[str, os.PathLike], **provenance: Any) -> Path:
    """Write ``run``'s deterministic actor to ``path.msgpack`` + ``path.json``; returns the
    msgpack path. ``provenance`` (command, return, ...) is stored in the JSON."""
    from flax import serialization

    params = run.state.backbone.actor_params["params"]["MLP_0"]
    layers = [{"kernel": np.asarray(params[f"Dense_{i}"]["kernel"], np.float32),
               "bias": np.asarray(params[f"Dense_{i}"]["bias"], np.float32)}
              for i in range(len(params))]
    weights_path, meta_path = _paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    weights_path.write_bytes(serialization.msgpack_serialize({"layers": {str(i): layer for i, layer in enumerate(layers)}}))
    meta = {"format": FORMAT, "env": run.config.env, "algo": run.config.algo,
            "obs_dim": run.obs_dim, "action_dim": run.action_dim,
            "hidden_sizes": list(run.config.hidden_sizes), **provenance}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return weights_path


class PolicyFile:
    """The deterministic actor stored in a guide file, evaluated in NumPy: ``tanh`` of the
    first ``action_dim`` outputs of a ReLU MLP (the SAC mean, or TD3's pre-activation)."""

    def __init__(self, path: Union[str, os.PathLike]):
        from flax import serialization

        weights_path, meta_path = _paths(path)
        try:
            self.meta: Dict[str, Any] = json.loads(meta_path.read_text())
            raw = serialization.msgpack_restore(weights_path.read_bytes()) \
                if self.meta.get("format") == FORMAT else None
            self.layers: List[Dict[str, np.ndarray]] = [] if raw is None else [
                {k: np.asarray(v, np.float64) for k, v in raw["layers"][str(i)].items()}
                for i in range(len(raw["layers"]))]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise GuideError(f"cannot read policy file {os.fspath(weights_path)!r}: "
                             f"{type(error).__name__}: {error}") from None
        if self.meta.get("format") != FORMAT:
            raise GuideError(f"policy file {os.fspath(meta_path)!r} has format {self.meta.get('format')!r}, "
                             f"expected {FORMAT!r}")
        self.obs_dim = int(self.meta["obs_dim"])
        self.action_dim = int(self.meta["action_dim"])

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = np.asarray(obs, np.float64).reshape(-1)
        if x.shape != (self.obs_dim,):
            raise GuideError(
                f"policy file for {self.meta.get('env')!r} takes observations of shape ({self.obs_dim},), "
                f"got shape {x.shape}"
            )
        for layer in self.layers[:-1]:
            x = np.maximum(x @ layer["kernel"] + layer["bias"], 0.0)
        out = x @ self.layers[-1]["kernel"] + self.layers[-1]["bias"]
        return np.tanh(out[: self.action_dim]).astype(np.float32)


def from_policy_file(path: Union[str, os.PathLike],
                     confidence: Union[Callable[[np.ndarray], float], float] = 1.0,
                     name: Optional[str] = None) -> Guide:
    """A Guide acting with the actor stored by :func:`export_policy` where ``confidence`` says."""
    policy = PolicyFile(path)
    conf = confidence if callable(confidence) else always(float(confidence))
    return Guide(policy, conf, name=name or f"policy-file:{Path(path).stem}",
                 obs_dim=policy.obs_dim, made_for=policy.meta.get("env"))
