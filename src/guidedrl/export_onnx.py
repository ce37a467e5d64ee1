"""The deployed policy as one ONNX graph, written with the ``onnx`` package's helpers
(``pip install 'guidedrl[export]'``); opset :data:`OPSET`.

Inputs (``N`` is dynamic): ``obs`` (N, obs_dim) float32, raw observations; for a guided export
also ``guide_action`` (N, d) float32, the guide's action in the normalised space [-1, 1]^d, and
``confidence`` (N,) float32, its λ. Outputs: ``action`` (N, d) float32 in the env's units; for a
guided export also ``from_guide`` (N,) bool. The nodes: Gemm and Relu for each dense layer, Tanh,
Concat, Add, Mul, Clip, Min/Max, Sigmoid, the comparisons and Where for the switch — the same
arithmetic as :mod:`guidedrl.deploy` (docs/DEPLOY.md).

Written by hand rather than through a JAX-to-ONNX converter: the graph is a few dense layers and
a switch, and the ``onnx`` package alone (protobuf and NumPy) writes it exactly, where the
converter on the registry (jax2onnx) pulls equinox, huggingface_hub, netron and an older orbax.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

OPSET = 17


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: pip install 'guidedrl[export]'") from None
    return onnx, helper, numpy_helper


class _Graph:
    """Nodes and initialisers with fresh names."""

    def __init__(self):
        _, self.helper, self.numpy_helper = _import_onnx()
        self.nodes: List[Any] = []
        self.initializers: List[Any] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint: str = "c") -> str:
        name = self.name(hint)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, inputs: List[str], hint: str = None, **attributes) -> str:
        out = self.name(hint or kind.lower())
        self.nodes.append(self.helper.make_node(kind, inputs, [out], **attributes))
        return out

    def mlp(self, layers, x: str, net: str) -> str:
        for i, (kernel, bias) in enumerate(layers):
            x = self.op("Gemm", [x, self.const(kernel, f"{net}.{i}.kernel"), self.const(bias, f"{net}.{i}.bias")],
                        f"{net}_dense{i}")
            if i < len(layers) - 1:
                x = self.op("Relu", [x], f"{net}_relu{i}")
        return x

    def twin(self, nets, name: str, inputs: str) -> List[str]:
        return [self.mlp(nets[f"{name}{j}"], inputs, f"{name}{j}") for j in (0, 1)]


def write_onnx(info: Dict[str, Any], nets: Dict[str, Any], path: Path) -> None:
    """Write the graph of the policy ``info`` (the export manifest) with ``nets`` to ``path``."""
    onnx, helper, _ = _import_onnx()
    g = _Graph()
    obs_dim, d = int(info["obs_dim"]), int(info["action_dim"])
    switch, guidance = info["switch"], info["guidance"]
    f32 = onnx.TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("obs", f32, ["N", obs_dim])]
    outputs = [helper.make_tensor_value_info("action", f32, ["N", d])]
    actor = g.op("Tanh", [g.mlp(nets["actor"], "obs", "actor")], "actor_action")
    normalized, use = actor, None
    if guidance != "none":
        lo, hi = g.const(np.float32(-1.0), "minus_one"), g.const(np.float32(1.0), "one")
        inputs += [helper.make_tensor_value_info("guide_action", f32, ["N", d]),
                   helper.make_tensor_value_info("confidence", f32, ["N"])]
        outputs.append(helper.make_tensor_value_info("from_guide", onnx.TensorProto.BOOL, ["N"]))
        confidence = g.op("Unsqueeze", ["confidence", g.const(np.array([1], np.int64), "axis1")], "lambda")
    if guidance == "residual":
        composed = g.op("Add", ["guide_action", g.op("Mul", [g.const(np.float32(switch["phi"]), "phi"), actor])])
        normalized = g.op("Clip", [composed, lo, hi], "residual_action")
        use = g.op("GreaterOrEqual", [confidence, lo], "always")  # every row: the action contains the guide's
    elif guidance in ("sag", "pag"):
        guided = "guide_action"
        if guidance == "pag":
            pair = g.op("Concat", ["obs", "guide_action"], "obs_guide", axis=-1)
            u = g.op("Tanh", [g.mlp(nets["perturbation"], pair, "perturbation")], "u")
            scale = g.const(np.float32(switch["pag_beta"]) * np.float32(switch["phi"]), "beta_phi")
            guided = g.op("Clip", [g.op("Add", ["guide_action", g.op("Mul", [scale, u])]), lo, hi], "perturbed")
        narrowed = _learned_confidence(g, info, nets, confidence, guided, actor)
        use = g.op("GreaterOrEqual", [narrowed, g.const(np.float32(switch["threshold"]), "threshold")], "use")
        normalized = g.op("Where", [use, guided, actor], "deployed")
    low = np.asarray(info["action_low"], np.float64)
    high = np.asarray(info["action_high"], np.float64)
    env_action = g.op("Add", [g.const((0.5 * (high + low)).astype(np.float32), "action_mid"),
                              g.op("Mul", [normalized, g.const((0.5 * (high - low)).astype(np.float32), "action_half")])])
    g.nodes.append(helper.make_node("Identity", [env_action], ["action"]))
    if use is not None:
        g.nodes.append(helper.make_node("Squeeze", [use, g.const(np.array([1], np.int64), "axis1")], ["from_guide"]))
    graph = helper.make_graph(g.nodes, "guidedrl_policy", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="guidedrl", producer_version=info["guidedrl_version"])
    model.ir_version = 8  # onnxruntime reads IR 8 with opset 17 everywhere
    for key in ("algo", "guidance", "confidence", "env", "guide"):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(info[key])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _learned_confidence(g: _Graph, info, nets, confidence: str, guided: str, actor: str) -> str:
    """λ̂ (N, 1) from λ (N, 1), as :func:`guidedrl.deploy.learned_confidence`."""
    rule, switch = info["confidence"], info["switch"]
    if rule == "given":
        return confidence
    q_guided = g.op("Min", g.twin(nets, "critic", g.op("Concat", ["obs", guided], "obs_guided", axis=-1)))
    actor_pair = g.op("Concat", ["obs", actor], "obs_actor", axis=-1)
    q_actor = g.op("Min", g.twin(nets, "critic", actor_pair))
    delta_q = g.op("Sub", [q_guided, q_actor], "delta_q")
    margin = np.float32(switch["margin"])
    if rule == "q-gap-soft":
        slope = g.const(np.float32(switch["beta"]), "slope")
        return g.op("Mul", [confidence, g.op("Sigmoid", [g.op("Mul", [slope, g.op("Add", [delta_q, g.const(margin)])])])])
    keep = g.op("GreaterOrEqual", [delta_q, g.const(-margin, "minus_margin")], "keep")
    if rule == "risk":
        logits = g.twin(nets, "risk", actor_pair)
        if "risk_prior0" in nets:
            spread = g.const(np.float32(switch["risk_spread"]), "spread")
            priors = g.twin(nets, "risk_prior", actor_pair)
            logits = [g.op("Add", [z, g.op("Mul", [spread, p])]) for z, p in zip(logits, priors)]
        risk = g.op("Max", [g.op("Sigmoid", [z]) for z in logits], "risk")
        keep = g.op("Or", [keep, g.op("Greater", [risk, g.const(np.float32(switch["risk_threshold"]), "eps")])])
    elif rule != "q-gap":
        raise ValueError(f"unknown confidence rule {rule!r}")
    return g.op("Mul", [confidence, g.op("Cast", [keep], to=1)], "lambda_hat")
