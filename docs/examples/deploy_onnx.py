"""Run an exported guidedrl policy with onnxruntime alone: python deploy_onnx.py policy.onnx"""
import sys

import numpy as np
import onnxruntime as ort

session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
names = [i.name for i in session.get_inputs()]           # obs [, guide_action, confidence]
obs_dim = session.get_inputs()[0].shape[1]
obs = np.zeros((1, obs_dim), np.float32)                 # one observation (a batch of 1)
feed = {"obs": obs}
if "guide_action" in names:                              # a guided policy: your guide's outputs
    action_dim = session.get_inputs()[1].shape[1]
    feed["guide_action"] = np.zeros((1, action_dim), np.float32)   # a_g(s) in [-1, 1]
    feed["confidence"] = np.ones(1, np.float32)                    # λ(s) in [0, 1]
outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
print("action", outputs["action"][0].tolist(), "from guide", bool(outputs.get("from_guide", [False])[0]))
