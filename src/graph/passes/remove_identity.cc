// Removes nodes that do not change their input: Identity, Dropout (inference),
// Reshape to the same shape, Transpose with the identity permutation, Cast to
// the same dtype. Graph output names never change: when the removed node
// produces a graph output, its producer is made to write that value directly,
// or (if the input is itself a graph input, constant or output) the node stays
// as a plain Identity.
#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"

namespace ef {

namespace {
using namespace passes;

// ONNX TensorProto data type -> DType (only the ones we represent).
bool onnx_dtype(int64_t t, DType& d) {
  switch (t) {
    case 1: d = DType::f32; return true;
    case 2: d = DType::u8; return true;
    case 3: d = DType::i8; return true;
    case 6: d = DType::i32; return true;
    case 7: d = DType::i64; return true;
    case 9: d = DType::boolean; return true;
    case 10: d = DType::f16; return true;
    default: return false;
  }
}

bool is_noop(const Graph& g, const Node& n) {
  if (n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty()) return false;
  const Value& x = g.in(n, 0);
  const Value& y = g.values[n.outputs[0]];
  if (n.op == "Identity") return n.outputs.size() == 1;
  if (n.op == "Dropout") {
    // Inference mode only: a constant-true training_mode keeps it.
    if (Graph::has_input(n, 2)) {
      const Value& t = g.in(n, 2);
      if (!t.is_const() || t.data.numel() != 1) return false;
      if (t.dtype == DType::boolean && *t.data.data_as<bool>()) return false;
    }
    for (size_t k = 1; k < n.outputs.size(); ++k)
      if (n.outputs[k] >= 0 && !unused(g, n.outputs[k])) return false;
    return true;
  }
  if (n.op == "Reshape") {
    if (!x.shape_known) return false;
    if (y.shape_known) return y.shape == x.shape && y.dtype == x.dtype;
    return false;
  }
  if (n.op == "Transpose") {
    auto perm = n.attrs.ints("perm");
    if (perm.empty()) return x.shape_known && x.shape.size() <= 1;
    for (size_t i = 0; i < perm.size(); ++i)
      if (perm[i] != int64_t(i)) return false;
    return true;
  }
  if (n.op == "Cast") {
    if (!x.shape_known) return false;
    if (y.shape_known) return y.dtype == x.dtype;
    DType d;
    return n.attrs.has("to") && onnx_dtype(n.attrs.i("to"), d) && d == x.dtype;
  }
  return false;
}
bool is_reshape_like(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze";
}

// Reshape-like B reading the output of reshape-like A (nobody else reads it):
// B becomes one Reshape of A's input to B's (known) output shape; A goes.
bool collapse_reshapes(Graph& g, size_t bi, OptimizeReport& report) {
  const Node& b = g.nodes[bi];
  if (!is_reshape_like(b.op) || b.inputs.empty() || b.inputs[0] < 0 || b.outputs.size() != 1) return false;
  const Value& mid = g.values[b.inputs[0]];
  const Value& out = g.values[b.outputs[0]];
  if (mid.producer < 0 || !out.shape_known || is_graph_output(g, b.inputs[0]) || use_count(g, b.inputs[0]) != 1)
    return false;
  const Node& a = g.nodes[mid.producer];
  if (a.dead || !is_reshape_like(a.op) || a.inputs.empty() || a.inputs[0] < 0 || a.outputs.size() != 1) return false;
  const Value& src = g.values[a.inputs[0]];
  if (!src.shape_known || src.dtype != out.dtype || numel(src.shape) != numel(out.shape)) return false;
  const int ai = mid.producer;
  const std::string what = g.describe(a) + " and " + g.describe(b);
  const Shape target = out.shape;
  const int src_id = a.inputs[0];
  int shape = g.add_const(g.unique_name(g.nodes[bi].name + "_shape"),
                          Tensor::from<int64_t>({int64_t(target.size())}, target));
  Node& nb = g.nodes[bi];
  nb.op = "Reshape";
  nb.inputs = {src_id, shape};
  nb.attrs = Attrs();
  g.nodes[ai].dead = true;
  log(report, "remove_identity: merged " + what + " into one Reshape to " + shape_str(target));
  return true;
}
}  // namespace

int remove_identity(Graph& g, OptimizeReport& report) {
  g.relink();
  int removed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!g.nodes[i].dead && collapse_reshapes(g, i, report)) ++removed;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.dead || !is_noop(g, n)) continue;
    const int x = n.inputs[0], y = n.outputs[0];
    const std::string what = g.describe(n);
    if (!is_graph_output(g, y)) {
      g.replace_uses(y, x);
      n.dead = true;
    } else {
      const int p = g.values[x].producer;
      if (p >= 0 && !is_graph_output(g, x) && !is_graph_input(g, x)) {
        // The producer writes the graph output directly; x's readers read y.
        Node& prod = g.nodes[p];
        for (int& o : prod.outputs)
          if (o == x) o = y;
        g.values[y].producer = p;
        n.dead = true;
        g.replace_uses(x, y);
      } else if (n.op != "Identity") {
        // Needed to give the output its own name: keep it as an Identity.
        n.op = "Identity";
        n.inputs.resize(1);
        n.outputs.resize(1);
        n.attrs = Attrs();
        log(report, "remove_identity: " + what + " kept as Identity for graph output '" + g.values[y].name + "'");
        ++removed;
        continue;
      } else {
        continue;
      }
    }
    log(report, "remove_identity: removed " + what);
    ++removed;
  }
  if (removed) g.compact();
  return removed;
}

}  // namespace ef
