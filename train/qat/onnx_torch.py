"""A torch interpreter of the ONNX graphs `edgeflow convert` and `edgeflow
quantize` write (only the ops those use), for quantization-aware fine-tuning.

  OnnxGraph(path)                  float model (the teacher): constants fixed
  OnnxGraph(path, trainable=True)  QDQ model (the student): every
      DequantizeLinear of a constant int8 weight or int32 bias becomes a float
      parameter initialised to its dequantized value and fake-quantized on the
      way in (same scale, zero point 0, straight-through rounding);
      QuantizeLinear -> DequantizeLinear on activations is fake quantization
      with the file's per-tensor scale and zero point.
  g.save_qdq(out)                  the QDQ file g was read from, with the
      parameters re-quantized (int8 weights, int32 biases; scales unchanged):
      same nodes, same initializer names, shapes and types.

Any other op raises UnsupportedOp naming the node and the op.
"""
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


class UnsupportedOp(ValueError):
    pass


def ste_round(x):
    """round() forward, identity backward (straight-through estimator)."""
    return x + (torch.round(x) - x).detach()


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _str(v):
    return v.decode() if isinstance(v, bytes) else v


def _pad_nd(x, pads, value=0.0):
    """ONNX pads [b0, b1, ..., e0, e1, ...] over all axes of x."""
    r = x.dim()
    tp = []
    for ax in reversed(range(r)):
        tp += [int(pads[ax]), int(pads[ax + r])]
    if not any(tp):
        return x
    return F.pad(x, tp, value=value)


def _spatial_pads(a, r):
    """Conv/pool pads for the spatial axes as full ONNX pads of a rank-r tensor."""
    p = list(a.get("pads", [0] * (2 * (r - 2))))
    k = r - 2
    return [0, 0] + p[:k] + [0, 0] + p[k:]


def _check_auto_pad(node, a):
    if _str(a.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
        raise UnsupportedOp(f"node '{node.name}' ({node.op_type}): auto_pad={_str(a['auto_pad'])} is not supported")


def _conv(node, a, x, w, b):
    _check_auto_pad(node, a)
    x = _pad_nd(x, _spatial_pads(a, x.dim()))
    return F.conv2d(x, w, b, stride=a.get("strides", 1), dilation=a.get("dilations", 1), groups=a.get("group", 1))


def _conv_transpose(node, a, x, w, b):
    _check_auto_pad(node, a)
    if "output_shape" in a:
        raise UnsupportedOp(f"node '{node.name}' (ConvTranspose): output_shape is not supported")
    y = F.conv_transpose2d(x, w, b, stride=a.get("strides", 1), output_padding=a.get("output_padding", 0),
                           groups=a.get("group", 1), dilation=a.get("dilations", 1))
    p = a.get("pads", [0, 0, 0, 0])
    return y[:, :, p[0]:y.shape[2] - p[2], p[1]:y.shape[3] - p[3]]


def _pool(node, a, x, kind):
    _check_auto_pad(node, a)
    if a.get("ceil_mode", 0):
        raise UnsupportedOp(f"node '{node.name}' ({node.op_type}): ceil_mode=1 is not supported")
    k, s = a["kernel_shape"], a.get("strides", [1, 1])
    pads = _spatial_pads(a, x.dim())
    if kind == "max":
        return F.max_pool2d(_pad_nd(x, pads, float("-inf")), k, s)
    if any(pads) and not a.get("count_include_pad", 0):
        ones = _pad_nd(torch.ones_like(x[:1, :1]), pads)
        return F.avg_pool2d(_pad_nd(x, pads), k, s, divisor_override=1) / F.avg_pool2d(ones, k, s, divisor_override=1)
    return F.avg_pool2d(_pad_nd(x, pads), k, s)


def _resize(node, a, x, sizes, scales):
    mode, ctm = _str(a.get("mode", "nearest")), _str(a.get("coordinate_transformation_mode", "half_pixel"))
    if sizes is None:
        sizes = [int(np.floor(d * s)) for d, s in zip(x.shape, scales)]
    sizes = [int(v) for v in sizes]
    if x.dim() != 4 or sizes[1] != x.shape[1] or sizes[0] not in (1, x.shape[0]):  # frames stacked on axis 0
        raise UnsupportedOp(f"node '{node.name}' (Resize): only the last two axes of a 4-D tensor may be resized")
    if mode == "linear" and ctm in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        return F.interpolate(x, size=sizes[2:], mode="bilinear", align_corners=ctm == "align_corners")
    if mode == "nearest" and ctm == "asymmetric" and _str(a.get("nearest_mode", "round_prefer_floor")) == "floor":
        return F.interpolate(x, size=sizes[2:], mode="nearest")
    raise UnsupportedOp(f"node '{node.name}' (Resize): mode={mode} coordinate_transformation_mode={ctm} "
                        "is not supported")


def _reshape(x, shape):
    shape = [int(x.shape[i]) if int(d) == 0 else int(d) for i, d in enumerate(shape)]
    if shape and shape[0] == 1:  # frames are stacked on the batch axis (the models' batch is 1)
        shape[0] = x.shape[0]
    return x.reshape(shape)


def _axis_shape(rank, axis, n):
    s = [1] * rank
    s[axis] = n
    return s


# op -> f(node, attrs, inputs) ; inputs are tensors (or None for empty names)
OPS = {
    "Conv": lambda n, a, i: _conv(n, a, i[0], i[1], i[2] if len(i) > 2 else None),
    "ConvTranspose": lambda n, a, i: _conv_transpose(n, a, i[0], i[1], i[2] if len(i) > 2 else None),
    "Relu": lambda n, a, i: F.relu(i[0]),
    "Sigmoid": lambda n, a, i: torch.sigmoid(i[0]),
    "HardSigmoid": lambda n, a, i: torch.clamp(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1),
    "HardSwish": lambda n, a, i: i[0] * torch.clamp(i[0] / 6 + 0.5, 0, 1),
    "LeakyRelu": lambda n, a, i: F.leaky_relu(i[0], a.get("alpha", 0.01)),
    "Clip": lambda n, a, i: torch.clamp(i[0], *[None if len(i) <= k or i[k] is None else float(i[k]) for k in (1, 2)]),
    "Add": lambda n, a, i: i[0] + i[1],
    "Mul": lambda n, a, i: i[0] * i[1],
    "Concat": lambda n, a, i: torch.cat(i, dim=a["axis"]),
    "Transpose": lambda n, a, i: i[0].permute(*a["perm"]),
    "Reshape": lambda n, a, i: _reshape(i[0], i[1].tolist()),
    "Flatten": lambda n, a, i: i[0].reshape(int(np.prod(i[0].shape[:a.get("axis", 1)])), -1),
    "Pad": lambda n, a, i: _pad_nd(i[0], i[1].tolist(), float(i[2]) if len(i) > 2 and i[2] is not None else 0.0),
    "MaxPool": lambda n, a, i: _pool(n, a, i[0], "max"),
    "AveragePool": lambda n, a, i: _pool(n, a, i[0], "avg"),
    "GlobalAveragePool": lambda n, a, i: i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True),
    "Resize": lambda n, a, i: _resize(n, a, i[0], i[3].tolist() if len(i) > 3 and i[3] is not None else None,
                                      i[2].tolist() if len(i) > 2 and i[2] is not None else None),
    "Gemm": lambda n, a, i: _gemm(a, i),
    "MatMul": lambda n, a, i: i[0] @ i[1],
}


def _gemm(a, i):
    x, w = i[0], i[1]
    if a.get("transA", 0):
        x = x.t()
    if a.get("transB", 0):
        w = w.t()
    y = a.get("alpha", 1.0) * (x @ w)
    return y + a.get("beta", 1.0) * i[2] if len(i) > 2 and i[2] is not None else y


class OnnxGraph(torch.nn.Module):
    def __init__(self, path, trainable=False):
        super().__init__()
        self.path = path
        model = onnx.load(path)
        g = model.graph
        self.nodes = list(g.node)
        self.consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for n in self.nodes:
            if n.op_type == "Constant":
                self.consts[n.output[0]] = numpy_helper.to_array(attrs(n)["value"])
            elif n.op_type not in OPS and n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
                raise UnsupportedOp(f"{path}: node '{n.name}' has op {n.op_type}, which train/qat does not "
                                    f"interpret (supported: {', '.join(sorted(OPS))}, QuantizeLinear, "
                                    "DequantizeLinear)")
        self.inputs = [(v.name, [d.dim_value for d in v.type.tensor_type.shape.dim])
                       for v in g.input if v.name not in self.consts]
        self.outputs = [(v.name, [d.dim_value for d in v.type.tensor_type.shape.dim]) for v in g.output]
        self.fixed = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in self.consts.items()
                      if v.dtype.kind in "fiu"}
        producer = {o: m for m in self.nodes for o in m.output}
        # Trainable constants: DequantizeLinear of an int8 weight / int32 bias.
        self.qparams = {}  # DQ output -> (index in self.params, int8/int32 initializer name, scale, dtype)
        params = []
        for n in self.nodes:
            if n.op_type != "DequantizeLinear" or n.input[0] not in self.consts:
                continue
            q = self.consts[n.input[0]]
            s = np.asarray(self.consts[n.input[1]], np.float32)
            zp = self.consts[n.input[2]] if len(n.input) > 2 and n.input[2] else np.zeros(1)
            axis = attrs(n).get("axis", 1)
            if axis < 0:
                axis += q.ndim
            shape = _axis_shape(q.ndim, axis, s.size) if s.size > 1 else [1] * q.ndim
            deq = (q.astype(np.float64) - np.asarray(zp, np.float64).reshape(shape)) * s.reshape(shape)
            if not trainable or q.dtype not in (np.int8, np.int32):
                self.fixed[n.output[0]] = torch.from_numpy(deq.astype(np.float32))
                continue
            if np.any(zp != 0):
                raise ValueError(f"{path}: '{n.input[0]}' has a non-zero zero point; weights and biases must be "
                                 "symmetric (as edgeflow quantize writes them)")
            self.qparams[n.output[0]] = (len(params), n.input[0], torch.from_numpy(s.reshape(shape).copy()), q.dtype)
            params.append(torch.nn.Parameter(torch.from_numpy(deq.astype(np.float32))))
        self.params = torch.nn.ParameterList(params)
        # Activations: QuantizeLinear (per tensor) read only by DequantizeLinear with the same parameters.
        readers = {}
        for n in self.nodes:
            for v in n.input:
                readers.setdefault(v, []).append(n)
        self.act_q = {}
        for n in self.nodes:
            if n.op_type == "DequantizeLinear" and n.input[0] not in self.consts:
                q = producer.get(n.input[0])
                if q is None or q.op_type != "QuantizeLinear" or list(q.input[1:]) != list(n.input[1:]):
                    raise ValueError(f"{path}: DequantizeLinear '{n.name}' must read a QuantizeLinear with the "
                                     "same scale and zero point (the QDQ format edgeflow quantize writes)")
            if n.op_type != "QuantizeLinear":
                continue
            if any(r.op_type != "DequantizeLinear" for r in readers.get(n.output[0], [])):
                raise ValueError(f"{path}: QuantizeLinear '{n.name}' must be read by DequantizeLinear only")
            scale = self.consts.get(n.input[1])
            zp = self.consts.get(n.input[2]) if len(n.input) > 2 and n.input[2] else np.zeros(1, np.uint8)
            if scale is None or scale.size != 1:
                raise ValueError(f"{path}: QuantizeLinear '{n.name}' needs a constant per-tensor scale")
            lo, hi = (-128, 127) if zp.dtype == np.int8 else (0, 255)
            self.act_q[n.output[0]] = (float(scale.flatten()[0]), int(zp.flatten()[0]), lo, hi)

    def fake_quantized(self, name):
        i, _, s, dtype = self.qparams[name]
        if dtype == np.int8 and s.numel() > 1:  # per-channel weights: torch's fused op (STE inside)
            axis = max(range(s.dim()), key=lambda d: s.shape[d])
            return torch.fake_quantize_per_channel_affine(self.params[i], s.flatten(), torch.zeros(s.numel(), dtype=torch.int32),
                                                          axis, -127, 127)
        lo, hi = (-127, 127) if dtype == np.int8 else (-2 ** 31, 2 ** 31 - 1)
        return torch.clamp(ste_round(self.params[i] / s), lo, hi) * s

    def forward(self, *xs, values=None):
        """The outputs; `values` (a dict) also receives every value computed."""
        env = dict(self.fixed)
        for name in self.qparams:
            env[name] = self.fake_quantized(name)
        for (name, _), x in zip(self.inputs, xs):
            env[name] = x
        for n in self.nodes:
            if n.op_type == "Constant" or n.output[0] in env:
                continue
            ins = [env[v] if v else None for v in n.input]
            a = attrs(n)
            if n.op_type == "QuantizeLinear":  # Q -> DQ as one fake quantization (checked in __init__)
                scale, zp, lo, hi = self.act_q[n.output[0]]
                y = torch.fake_quantize_per_tensor_affine(ins[0], scale, zp, lo, hi)
            elif n.op_type == "DequantizeLinear":
                y = ins[0]
            else:
                y = OPS[n.op_type](n, a, ins)
            env[n.output[0]] = y
        if values is not None:
            values.update(env)
        return [env[name] for name, _ in self.outputs]

    def save_qdq(self, out):
        """The QDQ file this graph was read from, its int8 weights and int32
        biases re-quantized from the (fine-tuned) parameters."""
        model = onnx.load(self.path)
        by_name = {t.name: t for t in model.graph.initializer}
        with torch.no_grad():
            for name, (i, init, s, dtype) in self.qparams.items():
                s = s.double()
                lo, hi = (-127, 127) if dtype == np.int8 else (-2 ** 31, 2 ** 31 - 1)
                q = torch.clamp(torch.round(self.params[i].double() / s), lo, hi).numpy().astype(dtype)
                by_name[init].CopyFrom(numpy_helper.from_array(q, init))
        onnx.save(model, out)


def check_pair(fp, qdq):
    """fp must be a float graph and qdq a QDQ graph with the same inputs and outputs."""
    if any(n.op_type == "QuantizeLinear" for n in fp.nodes):
        raise ValueError(f"{fp.path} is a QDQ file; the teacher must be the float model (edgeflow convert)")
    if not qdq.qparams:
        raise ValueError(f"{qdq.path} is not a QDQ file (no int8 weights behind DequantizeLinear; "
                         "edgeflow quantize writes one)")
    for what, a, b in (("inputs", fp.inputs, qdq.inputs), ("outputs", fp.outputs, qdq.outputs)):
        if a != b:
            raise ValueError(f"{qdq.path} does not match {fp.path}: {what} {b} vs {a} (not the QDQ file of this model?)")
