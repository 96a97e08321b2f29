#!/usr/bin/python3
"""Average the posteriors of several train.py float graphs into one ONNX graph (a seed ensemble), with a float manifest
that `edgekws-model evaluate --max-model-bytes N` scores on streams (docs/model-loop.md "How much of a recipe comparison
is the seed"). Not a device model: N graphs are N times the device budget.

    /usr/bin/python3 tools/train/experiments/ensemble.py --out DIR --like models/verifier/hey-edge-verifier-1.0.0.float.manifest.json \
        --threshold 0.975 artifacts/m23/trained/model.float.onnx artifacts/m23s43/trained/model.float.onnx ...
"""
import argparse
import hashlib
import json
import os

import onnx
from onnx import TensorProto, helper


def merge(paths):
    nodes, initializers, outputs = [], [], []
    first = onnx.load(paths[0]).graph
    input_name = first.input[0].name
    for i, path in enumerate(paths):
        g = onnx.load(path).graph
        if g.input[0].name != input_name:
            raise SystemExit(f"{path}: input '{g.input[0].name}', the first graph's is '{input_name}'")
        rename = lambda n, i=i: n if n == input_name else f"m{i}_{n}"
        for t in g.initializer:
            t.name = rename(t.name)
            initializers.append(t)
        for n in g.node:
            n.name = rename(n.name or f"node{len(nodes)}")
            n.input[:] = [rename(x) for x in n.input]
            n.output[:] = [rename(x) for x in n.output]
            nodes.append(n)
        outputs.append(rename(g.output[0].name))
    classes = first.output[0].type.tensor_type.shape.dim[1].dim_value
    nodes.append(helper.make_node("Sum", outputs, ["posterior_sum"], name="ensemble_sum"))
    initializers.append(helper.make_tensor("ensemble_weight", TensorProto.FLOAT, [], [1.0 / len(paths)]))
    nodes.append(helper.make_node("Mul", ["posterior_sum", "ensemble_weight"], ["posteriors"], name="ensemble_mean"))
    graph = helper.make_graph(nodes, "ensemble", [first.input[0]],
                              [helper.make_tensor_value_info("posteriors", TensorProto.FLOAT, [1, classes])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("graphs", nargs="+", help="train.py model.float.onnx files (same input and classes)")
    p.add_argument("--out", required=True)
    p.add_argument("--like", required=True, help="a float manifest to copy labels, window, stride and smoothing from")
    p.add_argument("--threshold", type=float, required=True)
    p.add_argument("--version", default="0.0.0-ensemble")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    onnx_file = "ensemble.float.onnx"
    onnx.save(merge(a.graphs), os.path.join(a.out, onnx_file))
    data = open(os.path.join(a.out, onnx_file), "rb").read()
    with open(a.like, encoding="utf-8") as f:
        manifest = json.load(f)
    manifest.update({"modelId": "hey-edge", "modelVersion": a.version, "fileName": onnx_file,
                     "sha256": hashlib.sha256(data).hexdigest(), "sizeBytes": len(data), "threshold": a.threshold})
    with open(os.path.join(a.out, "ensemble.float.manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{len(a.graphs)} graphs -> {a.out}/{onnx_file} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
