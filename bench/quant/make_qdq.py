#!/usr/bin/python3
"""Writes a QDQ ONNX file the way ONNX Runtime's static quantizer does, for
testing and benchmarking the INT8 runtime before `edgeflow quantize` exists
(it is the tool users should run). Per-channel symmetric int8 weights,
per-tensor asymmetric activations (uint8 by default, like ORT's QUInt8),
int32 biases at x_scale * w_scale; ranges = min/max over the given inputs,
measured with ONNX Runtime (bench/quant/ranges.js).

  /usr/bin/python3 bench/quant/make_qdq.py MODEL.onnx OUT.onnx INPUT.npy [INPUT.npy ...] [--int8-act]
"""
import json, os, subprocess, sys, tempfile
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

QUANT_OPS = {"Conv", "Gemm", "MatMul", "Add", "Mul", "GlobalAveragePool", "Flatten", "Reshape", "Concat",
             "MaxPool", "Sigmoid", "HardSwish", "HardSigmoid", "Pad", "Resize", "AveragePool", "ConvTranspose"}

def fold_batchnorm(g, inits):
    """Conv -> BatchNormalization with constant parameters becomes one Conv
    (as ORT's quantizer pre-processing does)."""
    prod = {o: n for n in g.node for o in n.output}
    uses = {}
    for n in g.node:
        for x in n.input:
            uses[x] = uses.get(x, 0) + 1
    drop = set()
    for bn in g.node:
        if bn.op_type != "BatchNormalization" or bn.input[0] not in prod:
            continue
        conv = prod[bn.input[0]]
        if conv.op_type != "Conv" or uses.get(conv.output[0]) != 1 or conv.input[1] not in inits:
            continue
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        sc, b, mean, var = (inits[x].astype(np.float32) for x in bn.input[1:5])
        k = sc / np.sqrt(var + eps)
        w = inits[conv.input[1]] * k.reshape(-1, 1, 1, 1)
        cb = inits[conv.input[2]] if len(conv.input) > 2 and conv.input[2] else np.zeros_like(k)
        nb = (cb - mean) * k + b
        wn, bn_name = conv.input[1] + "_bnf", conv.name + "_bias_bnf"
        inits[wn], inits[bn_name] = w.astype(np.float32), nb.astype(np.float32)
        g.initializer.extend([numpy_helper.from_array(inits[wn], wn), numpy_helper.from_array(inits[bn_name], bn_name)])
        ins = list(conv.input)
        ins[1] = wn
        if len(ins) > 2: ins[2] = bn_name
        else: ins.append(bn_name)
        del conv.input[:]
        conv.input.extend(ins)
        conv.output[0] = bn.output[0]
        drop.add(id(bn))
    keep = [n for n in g.node if id(n) not in drop]
    g.ClearField("node")
    g.node.extend(keep)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    int8_act = "--int8-act" in sys.argv
    src, dst, inputs = args[0], args[1], args[2:]
    m = onnx.load(src)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    fold_batchnorm(g, inits)
    # 1. ranges of every activation
    probe = onnx.ModelProto()
    probe.CopyFrom(m)
    known = {o.name for o in probe.graph.output}
    for n in probe.graph.node:
        for o in n.output:
            if o and o not in known:
                probe.graph.output.append(helper.make_empty_tensor_value_info(o))
                known.add(o)
    with tempfile.NamedTemporaryFile(suffix=".onnx", delete=False) as f:
        f.write(probe.SerializeToString())
    here = os.path.dirname(os.path.abspath(__file__))
    rng = json.loads(subprocess.check_output(["node", os.path.join(here, "ranges.js"), f.name] + inputs))
    os.unlink(f.name)
    for i in g.input:
        if i.name not in inits:
            a = np.concatenate([np.load(p).ravel() for p in inputs])
            rng[i.name] = [float(a.min()), float(a.max())]

    qt = TensorProto.INT8 if int8_act else TensorProto.UINT8
    qlo, qhi = (-128, 127) if int8_act else (0, 255)
    new_inits, new_nodes = [], []
    qparams = {}

    def act_params(name):
        lo, hi = rng[name]
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        s = (hi - lo) / (qhi - qlo) or 1.0
        z = int(round(qlo - lo / s))
        return np.float32(s), int(np.clip(z, qlo, qhi))

    dq_of = {}
    def quantized(name):  # name -> its DQ output
        if name in dq_of:
            return dq_of[name]
        s, z = act_params(name)
        qparams[name] = s
        sn, zn = name + "_scale", name + "_zp"
        new_inits.append(numpy_helper.from_array(np.array(s, np.float32), sn))
        new_inits.append(numpy_helper.from_array(np.array(z, np.int8 if int8_act else np.uint8), zn))
        new_nodes.append(helper.make_node("QuantizeLinear", [name, sn, zn], [name + "_q"], name=name + "_Q"))
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_q", sn, zn], [name + "_dq"], name=name + "_DQ"))
        dq_of[name] = name + "_dq"
        return dq_of[name]

    def weight(name, axis):
        w = inits[name].astype(np.float32)
        red = tuple(i for i in range(w.ndim) if i != axis)
        amax = np.maximum(np.abs(w).max(axis=red), 1e-8)
        s = (amax / 127.0).astype(np.float32)
        shp = [1] * w.ndim
        shp[axis] = -1
        q = np.clip(np.round(w / s.reshape(shp)), -127, 127).astype(np.int8)
        new_inits.append(numpy_helper.from_array(q, name + "_wq"))
        new_inits.append(numpy_helper.from_array(s, name + "_wscale"))
        new_inits.append(numpy_helper.from_array(np.zeros(s.shape, np.int8), name + "_wzp"))
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_wq", name + "_wscale", name + "_wzp"],
                                          [name + "_wdq"], name=name + "_WDQ", axis=axis))
        return name + "_wdq", s

    def bias(name, xs, ws):
        b = inits[name].astype(np.float32)
        s = (np.float32(xs) * ws).astype(np.float32)
        q = np.round(b / s).astype(np.int32)
        new_inits.append(numpy_helper.from_array(q, name + "_bq"))
        new_inits.append(numpy_helper.from_array(s, name + "_bscale"))
        new_inits.append(numpy_helper.from_array(np.zeros(s.shape, np.int32), name + "_bzp"))
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_bq", name + "_bscale", name + "_bzp"],
                                          [name + "_bdq"], name=name + "_BDQ", axis=0))
        return name + "_bdq"

    for n in g.node:
        if n.op_type in QUANT_OPS:
            ins = list(n.input)
            for k, x in enumerate(ins):
                if not x or x in inits:
                    continue
                if x in rng:
                    ins[k] = quantized(x)
            if n.op_type in ("Conv", "Gemm") and len(ins) > 1 and n.input[1] in inits:
                trans = n.op_type == "Conv" or any(a.name == "transB" and a.i for a in n.attribute)
                ins[1], ws = weight(n.input[1], 0 if trans else 1)
                if len(ins) > 2 and n.input[2] in inits and n.input[0] in qparams:
                    ins[2] = bias(n.input[2], qparams[n.input[0]], ws)
            del n.input[:]
            n.input.extend(ins)
        new_nodes.append(n)
    # graph outputs are quantized too (so their producers fuse): OUT becomes DQ(Q(OUT)) named OUT__out
    for o in g.output:
        quantized(o.name)
    g.ClearField("node")
    g.node.extend(new_nodes)
    for o in g.output:
        next(n for n in g.node if n.name == o.name + "_DQ").output[0] = o.name + "__out"
        o.name = o.name + "__out"
    g.initializer.extend(new_inits)
    # topological order (Q/DQ nodes were appended after their producers' use)
    order, done, avail = [], set(), {i.name for i in g.input} | {t.name for t in g.initializer}
    nodes = list(g.node)
    while nodes:
        rest = []
        for n in nodes:
            if all((not x) or x in avail for x in n.input):
                order.append(n)
                avail.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(nodes):
            raise SystemExit("cycle or missing input: " + rest[0].name)
        nodes = rest
    g.ClearField("node")
    g.node.extend(order)
    used = {x for n in g.node for x in n.input}
    keep = [t for t in g.initializer if t.name in used]  # originals of folded/quantized weights
    g.ClearField("initializer")
    g.initializer.extend(keep)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    print(f"{dst}: {sum(1 for n in g.node if n.op_type == 'QuantizeLinear')} QuantizeLinear, "
          f"{sum(1 for n in g.node if n.op_type == 'DequantizeLinear')} DequantizeLinear")

main()
