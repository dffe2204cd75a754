"""Writes small valid ONNX models (one per normalisation path) as fuzz seeds.
Usage: /usr/bin/python3 seeds_onnx.py CORPUS_DIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)


def f32(name, *shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def i64(name, vals):
    return numpy_helper.from_array(np.array(vals, dtype=np.int64), name)


def save(fname, nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, fname, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    with open(os.path.join(out, "seed_" + fname + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


X = lambda name, *s: helper.make_tensor_value_info(name, TensorProto.FLOAT, list(s))
N = helper.make_node

save("conv", [N("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
              N("Relu", ["c"], ["r"]), N("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
              N("GlobalAveragePool", ["p"], ["g"]), N("Flatten", ["g"], ["f"]),
              N("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
     [X("x", "N", 3, 8, 8)], [X("y", "N", 5)], [f32("w", 4, 3, 3, 3), f32("b", 4), f32("fw", 5, 4), f32("fb", 5)])
save("softmax11", [N("Softmax", ["x"], ["y"], axis=1)], [X("x", 2, 3, 4)], [X("y", 2, 3, 4)], opset=11)
save("squeeze11", [N("Unsqueeze", ["x"], ["u"], axes=[0]), N("Squeeze", ["u"], ["y"], axes=[0])],
     [X("x", 2, 3)], [X("y", 2, 3)], opset=11)
save("split11", [N("Split", ["x"], ["a", "b"], axis=1, split=[1, 2]), N("Concat", ["b", "a"], ["y"], axis=1)],
     [X("x", 2, 3)], [X("y", 2, 3)], opset=11)
save("clip10", [N("Clip", ["x"], ["y"], min=0.0, max=6.0)], [X("x", 4)], [X("y", 4)], opset=10)
save("upsample9", [N("Upsample", ["x", "s"], ["y"], mode="nearest")], [X("x", 1, 2, 3, 3)], [X("y", 1, 2, 6, 6)],
     [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")], opset=9)
save("resize13", [N("Resize", ["x", "", "s"], ["y"], mode="linear")], [X("x", 1, 2, 3, 3)], [X("y", 1, 2, 6, 6)],
     [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")])
save("bn", [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"]), N("Dropout", ["y"], ["z"])],
     [X("x", 1, 2, 3, 3)], [X("z", 1, 2, 3, 3)], [f32("s", 2), f32("b", 2), f32("m", 2),
                                                  numpy_helper.from_array(np.ones(2, np.float32), "v")])
save("shape_chain", [N("Shape", ["x"], ["s"]), N("Gather", ["s", "i"], ["d"], axis=0),
                     N("Constant", [], ["k"], value=helper.make_tensor("k", TensorProto.INT64, [1], [-1])),
                     N("Unsqueeze", ["d", "ax"], ["du"]), N("Concat", ["du", "k"], ["shp"], axis=0),
                     N("Reshape", ["x", "shp"], ["y"]), N("ReduceMean", ["y"], ["z"], axes=[1], keepdims=0)],
     [X("x", 2, 3, 4)], [X("z", 2)], [i64("i", 0), i64("ax", [0])])
save("pad_slice", [N("Pad", ["x", "p"], ["a"], mode="constant"), N("Slice", ["a", "st", "en", "ax"], ["y"]),
                   N("Transpose", ["y"], ["t"], perm=[0, 2, 3, 1])],
     [X("x", 1, 2, 4, 4)], [X("t", 1, 4, 4, 2)],
     [i64("p", [0, 0, 1, 1, 0, 0, 1, 1]), i64("st", [1]), i64("en", [5]), i64("ax", [2])])
