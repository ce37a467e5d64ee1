"""``guidedrl export``: a trained policy as an ONNX graph or a NumPy ``.npz`` for the target
(docs/DEPLOY.md).

Both hold the **deployed** policy as training evaluated it: the actor's deterministic action
tanh(mean) (SAC, AWAC) or μ (TD3), with every scaling inside (raw observations in, actions in the
env's units out), and, for a run with a guide, what the switch needs: PAG's perturbation network,
the critics of a learned confidence (q-gap, q-gap-soft, risk) and the risk heads. The guide itself
is user code and stays on the target: its action (in the normalised space [-1, 1]^d, as guidedrl's
guides return it) and its λ are inputs. ``guide_free`` exports the actor alone.

The ``.npz`` (read by :mod:`guidedrl.deploy`, NumPy alone) holds each network's layers as
``<net>.<layer>.kernel``/``.bias`` and a JSON manifest (``__manifest__``) naming the algorithm,
guidance, confidence rule, spaces and the switch's constants. The ONNX file is one graph
(:mod:`guidedrl.export_onnx`) written with the ``onnx`` package's own helpers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from guidedrl.deploy import FORMAT, FORMAT_VERSION
from guidedrl.errors import ConfigError, GuidedRLError
from guidedrl.version import __version__

FORMATS = ("onnx", "numpy")
SUFFIX = {"onnx": ".onnx", "numpy": ".npz"}


def _dense_layers(params: Any) -> List[Tuple[np.ndarray, np.ndarray]]:
    """[(kernel, bias)] of a Flax MLP's Dense layers in order (params of one module)."""
    inner = params["params"] if "params" in params else params
    (mlp,) = [value for key, value in inner.items() if key.startswith("MLP") or key.startswith("VmapMLP")]
    return [(np.asarray(mlp[f"Dense_{i}"]["kernel"], np.float32), np.asarray(mlp[f"Dense_{i}"]["bias"], np.float32))
            for i in range(len(mlp))]


def _mean_head(layers, action_dim: int):
    """The layers of the network whose first ``action_dim`` outputs are the mean (a tanh-Gaussian's
    output is [mean, log_std]): the last layer's columns cut to them."""
    *hidden, (kernel, bias) = layers
    return hidden + [(kernel[:, :action_dim], bias[:action_dim])]


def _twin_layers(params: Any) -> List[List[Tuple[np.ndarray, np.ndarray]]]:
    """The two heads of a twin network (the vmapped MLP's leading axis)."""
    layers = _dense_layers(params)
    return [[(kernel[j], bias[j]) for kernel, bias in layers] for j in (0, 1)]


def networks(config, state, action_dim: int, guide_free: bool) -> Dict[str, List[Tuple[np.ndarray, np.ndarray]]]:
    """Every network the deployed policy needs, as lists of (kernel, bias)."""
    nets = {"actor": _mean_head(_dense_layers(state.backbone.actor_params), action_dim)}
    if guide_free or config.guidance not in ("sag", "pag"):
        return nets
    if config.guidance == "pag":
        nets["perturbation"] = _mean_head(_dense_layers(state.guidance.params), action_dim)
    if config.confidence != "given":
        if config.critic_layer_norm:
            raise ConfigError(f"cannot export the critics of a run with critic_layer_norm: the exported networks "
                              f"are plain Dense layers (confidence {config.confidence!r} needs the critics); "
                              "export with guide_free=True, or train without critic_layer_norm")
        for j, head in enumerate(_twin_layers(state.backbone.critic_params)):
            nets[f"critic{j}"] = head
    if config.confidence == "risk":
        for j, head in enumerate(_twin_layers(state.risk.params)):
            nets[f"risk{j}"] = head
        if state.risk.prior_params is not None:
            for j, head in enumerate(_twin_layers(state.risk.prior_params)):
                nets[f"risk_prior{j}"] = head
    return nets


def manifest(policy, guide_free: bool, nets: Dict[str, Any]) -> Dict[str, Any]:
    """What the exported networks are and how the switch combines them."""
    from guidedrl.guidance.common import DEPLOYED_THRESHOLD
    from guidedrl.guidance.schedules import pag_beta

    config = policy.config
    guided = not guide_free and config.guidance not in ("none", "rg", "pig", "jsrl")
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "guidedrl_version": __version__,
        "env": config.env, "guide": (policy.meta() if callable(policy.meta) else policy.meta).get("guide"),
        "algo": config.algo,
        "guidance": config.guidance if guided else "none",
        "confidence": config.confidence if guided and config.guidance in ("sag", "pag") else "given",
        "guide_free": not guided,
        "obs_dim": policy.obs_dim, "action_dim": policy.action_dim,
        "action_low": policy.action_low.astype(float).tolist(), "action_high": policy.action_high.astype(float).tolist(),
        "hidden_sizes": list(config.hidden_sizes),
        "switch": {
            "threshold": DEPLOYED_THRESHOLD,
            # the deployed policy acts at step 0 of the schedule, as run.act and the evaluations do
            "pag_beta": float(pag_beta(config, 0)), "phi": float(config.phi),
            "margin": float(config.confidence_margin), "beta": float(config.confidence_beta),
            "risk_threshold": float(config.risk_threshold), "risk_spread": float(config.risk_spread),
        },
        "networks": sorted(nets),
    }


def default_path(run_dir: Union[str, os.PathLike], fmt: str, guide_free: bool) -> Path:
    """RUN_DIR/policy[-guide-free].onnx|npz."""
    return Path(run_dir) / f"policy{'-guide-free' if guide_free else ''}{SUFFIX[fmt]}"


def export(policy, path: Union[str, os.PathLike], fmt: str = "onnx", guide_free: bool = False,
           force: bool = False) -> Path:
    """Write ``policy`` (a :class:`guidedrl.policy.Policy` or a :class:`guidedrl.Run`) to ``path``
    in ``fmt``; refuses an existing path unless ``force``. Returns the path written."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{str(path)!r} exists; choose another --out or pass --force to replace it")
    if path.exists() and path.is_dir():
        raise ConfigError(f"{str(path)!r} is a directory; give the file to write")
    nets = networks(policy.config, policy.state, policy.action_dim, guide_free)
    info = manifest(policy, guide_free, nets)
    nets = {name: layers for name, layers in nets.items() if name in info["networks"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        if fmt == "numpy":
            arrays = {f"{name}.{i}.{part}": value for name, layers in nets.items()
                      for i, layer in enumerate(layers) for part, value in zip(("kernel", "bias"), layer)}
            with open(tmp, "wb") as handle:
                np.savez(handle, __manifest__=np.asarray(json.dumps(info)), **arrays)
        else:
            from guidedrl.export_onnx import write_onnx

            write_onnx(info, nets, tmp)
        os.replace(tmp, path)
    except OSError as error:
        raise GuidedRLError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
