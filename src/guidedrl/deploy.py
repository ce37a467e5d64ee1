"""A trained policy on the target, with NumPy alone (docs/DEPLOY.md).

``guidedrl export RUN_DIR --format numpy`` (or ``run.export(path, format="numpy")``) writes an
``.npz``: the deployed policy's weights and a manifest (JSON) saying how they combine. This module
reads it and acts. It imports NumPy and the standard library only — no JAX, Flax, Gymnasium or
any other part of guidedrl — so it runs where only NumPy is installed::

    from guidedrl import deploy
    policy = deploy.load("policy.npz")
    action = policy.act(obs)                      # the actor alone, in the env's units
    guided = deploy.GuidedPolicy(policy, guide)   # the deployed policy: the guide where trusted
    action = guided.act(obs)

``guide`` is the same guide training used: a ``guidedrl.Guide`` or any callable returning
``(a_g, λ)`` for one observation, a_g in the normalised action space [-1, 1]^d (as guidedrl's
guides speak) and λ in [0, 1]; or an object with ``policy(obs)`` and ``confidence(obs)``. The
switch is the one training evaluated as "deployed" (docs/ALGORITHMS.md, "Acting and
evaluating"): λ̂(s) is the guide's λ(s), narrowed by the learned confidence if the run had one
(its critics and risk heads are in the file); the guide's action (SAG, JSRL after its horizon:
the actor) or its perturbed action ã = clip(a_g + β·Φ·u) (PAG, u from the exported perturbation
network) is executed where λ̂(s) >= 0.5, the actor's tanh-mean elsewhere; residual RL executes
clip(a_g + Φ·a) everywhere.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

FORMAT = "guidedrl-policy"
FORMAT_VERSION = 1
"""The export format this module reads (the manifest's ``format_version``)."""


class DeployError(ValueError):
    """A file this module cannot read, or an input of the wrong shape."""


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class MLP:
    """ReLU hidden layers and a linear output layer, as float32 matrices."""

    def __init__(self, layers: Sequence[Tuple[np.ndarray, np.ndarray]]):
        self.layers = [(np.asarray(kernel, np.float32), np.asarray(bias, np.float32)) for kernel, bias in layers]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for kernel, bias in self.layers[:-1]:
            x = _relu(x @ kernel + bias)
        kernel, bias = self.layers[-1]
        return x @ kernel + bias


def _networks(arrays: Dict[str, np.ndarray]) -> Dict[str, MLP]:
    """{name: MLP} from arrays named ``<name>.<layer>.kernel`` / ``.bias``."""
    layers: Dict[str, Dict[int, Dict[str, np.ndarray]]] = {}
    for key, value in arrays.items():
        parts = key.rsplit(".", 2)
        if len(parts) != 3 or parts[2] not in ("kernel", "bias"):
            continue
        layers.setdefault(parts[0], {}).setdefault(int(parts[1]), {})[parts[2]] = value
    return {name: MLP([(found[i]["kernel"], found[i]["bias"]) for i in sorted(found)])
            for name, found in layers.items()}


class ExportedPolicy:
    """A policy read from an ``.npz`` export: its manifest and its networks. :meth:`act` is the
    actor alone; :class:`GuidedPolicy` adds the guide and the switch."""

    def __init__(self, manifest: Dict[str, Any], arrays: Dict[str, np.ndarray]):
        self.manifest = manifest
        self.obs_dim = int(manifest["obs_dim"])
        self.action_dim = int(manifest["action_dim"])
        self.action_low = np.asarray(manifest["action_low"], np.float64)
        self.action_high = np.asarray(manifest["action_high"], np.float64)
        self.nets = _networks(arrays)
        missing = [name for name in manifest["networks"] if name not in self.nets]
        if missing:
            raise DeployError(f"the export lacks the network(s) {', '.join(missing)} its manifest names")

    # -- pieces --------------------------------------------------------------------------------
    def observations(self, obs: Any) -> Tuple[np.ndarray, bool]:
        """(N, obs_dim) float32 rows and whether one observation was given."""
        array = np.asarray(obs, np.float32)
        if array.shape == (self.obs_dim,):
            return array[None], True
        if array.ndim == 2 and array.shape[1] == self.obs_dim:
            return array, False
        raise DeployError(f"observation of shape {array.shape}, expected ({self.obs_dim},) or (N, {self.obs_dim})")

    def actor(self, obs: np.ndarray) -> np.ndarray:
        """The actor's deterministic action tanh(mean) in [-1, 1]^d, at (N, obs_dim) rows."""
        return np.tanh(self.nets["actor"](obs))

    def to_env(self, normalized: np.ndarray) -> np.ndarray:
        """[-1, 1]^d to the env's units (in float64, rounded once to float32, as ``run.act``)."""
        low, high = self.action_low, self.action_high
        return (0.5 * (high + low) + normalized.astype(np.float64) * 0.5 * (high - low)).astype(np.float32)

    def act(self, obs: Any) -> np.ndarray:
        """The actor alone (the guide-free policy) at one observation or a batch, in the env's units."""
        rows, single = self.observations(obs)
        action = self.to_env(self.actor(rows))
        return action[0] if single else action

    def __repr__(self) -> str:
        m = self.manifest
        return (f"ExportedPolicy({m['algo']}/{m['guidance']}, confidence {m['confidence']}, obs {self.obs_dim}, "
                f"actions {self.action_dim})")


def load(path: str) -> ExportedPolicy:
    """Read a ``guidedrl export --format numpy`` file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise DeployError(f"cannot read {path!r} as a guidedrl export: {error}") from None
    if "__manifest__" not in arrays:
        raise DeployError(f"{path!r} is not a guidedrl export: it has no manifest")
    manifest = json.loads(str(arrays.pop("__manifest__")))
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise DeployError(f"{path!r} is export format {manifest.get('format')!r} version "
                          f"{manifest.get('format_version')!r}; this guidedrl.deploy reads {FORMAT!r} version "
                          f"{FORMAT_VERSION}")
    return ExportedPolicy(manifest, arrays)


def _twin(policy: ExportedPolicy, name: str, obs: np.ndarray, action: np.ndarray) -> List[np.ndarray]:
    inputs = np.concatenate([obs, action], axis=-1)
    return [policy.nets[f"{name}{j}"](inputs)[:, 0] for j in (0, 1)]


def guided_side(policy: ExportedPolicy, obs: np.ndarray, guide_action: np.ndarray) -> np.ndarray:
    """What the guide's side of the switch executes: a_g (SAG), clip(a_g + β·Φ·u) (PAG)."""
    switch = policy.manifest["switch"]
    if policy.manifest["guidance"] != "pag":
        return guide_action
    u = np.tanh(policy.nets["perturbation"](np.concatenate([obs, guide_action], axis=-1)))
    return np.clip(guide_action + np.float32(switch["pag_beta"]) * np.float32(switch["phi"]) * u, -1.0, 1.0)


def learned_confidence(policy: ExportedPolicy, obs: np.ndarray, confidence: np.ndarray, guided: np.ndarray,
                       actor: np.ndarray) -> np.ndarray:
    """λ̂(s) from λ(s) with the exported critics (and risk heads), as training's acting rule."""
    rule, switch = policy.manifest["confidence"], policy.manifest["switch"]
    if rule == "given":
        return confidence
    delta_q = np.minimum(*_twin(policy, "critic", obs, guided)) - np.minimum(*_twin(policy, "critic", obs, actor))
    margin = np.float32(switch["margin"])
    if rule == "q-gap":
        return confidence * (delta_q >= -margin).astype(np.float32)
    if rule == "q-gap-soft":
        return confidence * _sigmoid(np.float32(switch["beta"]) * (delta_q + margin))
    if rule == "risk":
        logits = _twin(policy, "risk", obs, actor)
        if "risk_prior0" in policy.nets:
            priors = _twin(policy, "risk_prior", obs, actor)
            logits = [z + np.float32(switch["risk_spread"]) * p for z, p in zip(logits, priors)]
        risk = np.maximum(*[_sigmoid(z) for z in logits])
        keep = (delta_q >= -margin) | (risk > np.float32(switch["risk_threshold"]))
        return confidence * keep.astype(np.float32)
    raise DeployError(f"unknown confidence rule {rule!r} in the export")


def deployed(policy: ExportedPolicy, obs: np.ndarray, guide_action: np.ndarray, confidence: np.ndarray
             ) -> Tuple[np.ndarray, np.ndarray]:
    """(normalised actions, whether the guide gave each) of the deployed policy at (N, ·) rows."""
    actor = policy.actor(obs)
    guidance = policy.manifest["guidance"]
    if guidance == "residual":
        return np.clip(guide_action + np.float32(policy.manifest["switch"]["phi"]) * actor, -1.0, 1.0), \
            np.ones(len(obs), bool)
    if guidance not in ("sag", "pag"):  # none, rg, pig; jsrl past its horizon: the actor
        return actor, np.zeros(len(obs), bool)
    guided = guided_side(policy, obs, guide_action)
    narrowed = learned_confidence(policy, obs, confidence, guided, actor)
    use = narrowed >= np.float32(policy.manifest["switch"]["threshold"])
    return np.where(use[:, None], guided, actor), use


class GuidedPolicy:
    """The deployed policy on the target: asks ``guide`` for (a_g, λ) at each observation and
    applies the switch training evaluated (module docstring)."""

    def __init__(self, exported: ExportedPolicy, guide: Any):
        if exported.manifest.get("guide_free"):
            raise DeployError("this export holds the actor alone (exported with --guide-free): it has no switch")
        self.exported = exported
        self.guide = _guide_function(guide)
        self.last_from_guide = False

    def guide_fields(self, obs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(N, d) guide actions and (N,) confidences for (N, obs_dim) rows, checked."""
        d = self.exported.action_dim
        actions, confidences = [], []
        for row in obs:
            action, confidence = self.guide(row)
            action = np.asarray(action, np.float32).reshape(-1)
            if action.shape != (d,):
                raise DeployError(f"the guide returned an action of shape {action.shape}, expected ({d},)")
            confidence = float(confidence)
            if not (np.all(np.isfinite(action)) and 0.0 <= confidence <= 1.0):
                raise DeployError(f"the guide returned action {action.tolist()} and confidence {confidence}: "
                                  "expected finite values and a confidence in [0, 1]")
            actions.append(action)
            confidences.append(confidence)
        return np.stack(actions), np.asarray(confidences, np.float32)

    def act(self, obs: Any) -> np.ndarray:
        """The deployed action at one observation or a batch, in the env's units
        (``last_from_guide``: whether the guide gave it, per row for a batch)."""
        rows, single = self.exported.observations(obs)
        guide_action, confidence = self.guide_fields(rows)
        action, from_guide = deployed(self.exported, rows, guide_action, confidence)
        self.last_from_guide = bool(from_guide[0]) if single else from_guide
        action = self.exported.to_env(action)
        return action[0] if single else action


def _guide_function(guide: Any) -> Callable[[np.ndarray], Tuple[Any, Any]]:
    if hasattr(guide, "policy") and hasattr(guide, "confidence") and callable(getattr(guide, "confidence")) \
            and not hasattr(guide, "bind"):
        return lambda obs: (guide.policy(obs), guide.confidence(obs))
    if callable(guide):
        return guide
    raise DeployError(f"a guide is a callable obs -> (a_g, λ) or has policy(obs) and confidence(obs); "
                      f"got {type(guide).__name__}")


__all__ = ["load", "ExportedPolicy", "GuidedPolicy", "DeployError", "FORMAT", "FORMAT_VERSION"]
