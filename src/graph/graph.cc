#include "edgeflow/graph.h"

#include <algorithm>
#include <unordered_map>

namespace ef {

// ---- Attrs
namespace {
template <class T>
const T* get(const std::map<std::string, AttrValue>& m, const std::string& k) {
  auto it = m.find(k);
  if (it == m.end()) return nullptr;
  if (auto* p = std::get_if<T>(&it->second)) return p;
  throw Error("attribute '" + k + "' has the wrong type");
}
}  // namespace

int64_t Attrs::i(const std::string& k, int64_t def) const {
  if (auto* p = get<int64_t>(m_, k)) return *p;
  return def;
}
int64_t Attrs::i(const std::string& k) const {
  if (auto* p = get<int64_t>(m_, k)) return *p;
  throw Error("missing required attribute '" + k + "'");
}
float Attrs::f(const std::string& k, float def) const {
  auto it = m_.find(k);
  if (it == m_.end()) return def;
  if (auto* p = std::get_if<float>(&it->second)) return *p;
  if (auto* p = std::get_if<int64_t>(&it->second)) return float(*p);
  throw Error("attribute '" + k + "' has the wrong type");
}
std::string Attrs::s(const std::string& k, const std::string& def) const {
  if (auto* p = get<std::string>(m_, k)) return *p;
  return def;
}
std::vector<int64_t> Attrs::ints(const std::string& k, std::vector<int64_t> def) const {
  if (auto* p = get<std::vector<int64_t>>(m_, k)) return *p;
  return def;
}
std::vector<float> Attrs::floats(const std::string& k, std::vector<float> def) const {
  if (auto* p = get<std::vector<float>>(m_, k)) return *p;
  return def;
}
std::vector<std::string> Attrs::strings(const std::string& k) const {
  if (auto* p = get<std::vector<std::string>>(m_, k)) return *p;
  return {};
}
const Tensor& Attrs::tensor(const std::string& k) const {
  if (auto* p = get<Tensor>(m_, k)) return *p;
  throw Error("missing required tensor attribute '" + k + "'");
}

// ---- Graph
int Graph::add_value(const std::string& n, DType dtype, Shape shape, bool known) {
  Value v;
  v.name = n;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.shape_known = known;
  values.push_back(std::move(v));
  return int(values.size()) - 1;
}

int Graph::add_const(const std::string& n, Tensor t) {
  int id = add_value(n, t.dtype(), t.shape(), true);
  values[id].quant = t.quant;
  values[id].data = std::move(t);
  return id;
}

int Graph::add_node(const std::string& op, const std::string& n, std::vector<int> ins, std::vector<int> outs,
                    Attrs attrs) {
  Node node;
  node.op = op;
  node.name = n;
  node.inputs = std::move(ins);
  node.outputs = std::move(outs);
  node.attrs = std::move(attrs);
  int id = int(nodes.size());
  for (int o : node.outputs) values.at(o).producer = id;
  nodes.push_back(std::move(node));
  return id;
}

int Graph::find_value(const std::string& n) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == n) return int(i);
  return -1;
}

std::string Graph::unique_name(const std::string& base) {
  if (find_value(base) < 0 && std::none_of(nodes.begin(), nodes.end(), [&](const Node& n) { return n.name == base; }))
    return base;
  for (int k = 1;; ++k) {
    std::string c = base + "_" + std::to_string(k);
    if (find_value(c) < 0 && std::none_of(nodes.begin(), nodes.end(), [&](const Node& n) { return n.name == c; }))
      return c;
  }
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> c(values.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].dead) continue;
    for (int v : nodes[i].inputs)
      if (v >= 0 && (c[v].empty() || c[v].back() != int(i))) c[v].push_back(int(i));
  }
  return c;
}

void Graph::replace_uses(int from, int to) {
  for (auto& n : nodes)
    for (int& v : n.inputs)
      if (v == from) v = to;
  for (int& v : outputs)
    if (v == from) v = to;
}

void Graph::relink() {
  for (auto& v : values) v.producer = -1;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!nodes[i].dead)
      for (int o : nodes[i].outputs) values.at(o).producer = int(i);
}

void Graph::topo_sort() {
  relink();
  const size_t n = nodes.size();
  std::vector<int> indeg(n, 0);
  std::vector<std::vector<int>> succ(n);
  for (size_t i = 0; i < n; ++i) {
    if (nodes[i].dead) continue;
    for (int v : nodes[i].inputs) {
      if (v < 0) continue;
      int p = values[v].producer;
      if (p >= 0 && !nodes[p].dead) {
        succ[p].push_back(int(i));
        ++indeg[i];
      }
    }
  }
  // Kahn's algorithm, always taking the lowest index ready (stable).
  std::vector<int> order;
  std::vector<char> done(n, 0);
  std::vector<int> ready;
  for (size_t i = 0; i < n; ++i)
    if (!nodes[i].dead && indeg[i] == 0) ready.push_back(int(i));
  std::make_heap(ready.begin(), ready.end(), std::greater<>());
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), std::greater<>());
    int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    done[i] = 1;
    for (int s : succ[i])
      if (--indeg[s] == 0) {
        ready.push_back(s);
        std::push_heap(ready.begin(), ready.end(), std::greater<>());
      }
  }
  size_t live = 0;
  for (auto& nd : nodes) live += !nd.dead;
  if (order.size() != live) {
    for (size_t i = 0; i < n; ++i)
      if (!nodes[i].dead && !done[i])
        throw Error((source.empty() ? std::string() : source + ": ") + "graph has a cycle through " +
                    describe(nodes[i]));
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(nodes[i]));
  for (size_t i = 0; i < n; ++i)
    if (nodes[i].dead) sorted.push_back(std::move(nodes[i]));
  nodes = std::move(sorted);
  relink();
}

void Graph::compact() {
  std::vector<Node> kept;
  for (auto& n : nodes)
    if (!n.dead) kept.push_back(std::move(n));
  nodes = std::move(kept);
  std::vector<char> used(values.size(), 0);
  for (auto& n : nodes) {
    for (int v : n.inputs)
      if (v >= 0) used[v] = 1;
    for (int v : n.outputs) used[v] = 1;
  }
  for (int v : inputs) used[v] = 1;
  for (int v : outputs) used[v] = 1;
  std::vector<int> remap(values.size(), -1);
  std::vector<Value> nv;
  for (size_t i = 0; i < values.size(); ++i)
    if (used[i]) {
      remap[i] = int(nv.size());
      nv.push_back(std::move(values[i]));
    }
  values = std::move(nv);
  auto fix = [&](std::vector<int>& ids) {
    for (int& v : ids)
      if (v >= 0) v = remap[v];
  };
  for (auto& n : nodes) {
    fix(n.inputs);
    fix(n.outputs);
  }
  fix(inputs);
  fix(outputs);
  relink();
}

std::string Graph::describe(const Node& n) const { return "node '" + n.name + "' (" + n.op + ")"; }

// ---- schema registry
namespace {
std::unordered_map<std::string, OpSchema>& schemas() {
  static std::unordered_map<std::string, OpSchema> m;
  return m;
}
}  // namespace

void register_op_schema(OpSchema s) { schemas()[s.op] = std::move(s); }

const OpSchema* find_op_schema(const std::string& op) {
  auto it = schemas().find(op);
  return it == schemas().end() ? nullptr : &it->second;
}

std::vector<std::string> registered_ops() {
  std::vector<std::string> r;
  for (auto& [k, v] : schemas()) r.push_back(k);
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace ef
