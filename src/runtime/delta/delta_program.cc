#include "runtime/delta/delta_program.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

#include "edgeflow/analysis.h"

namespace ef {

void DeltaOp::run_plain(bool mark) {
  for (DValue* d : in_)
    if (d && d->pub != d->arena && !d->graph_input)  // a gated graph input: the plain kernel reads the raw frame
      std::memcpy(d->arena, d->pub, d->nbytes);
  plain_->run();
  for (DValue* d : out_) {
    if (d->buf != d->arena) std::memcpy(d->buf, d->arena, d->nbytes);
    if (mark) {
      d->raw.mark_all();
      d->raw.finalize();
    }
  }
  last_dense_ = true;
}

namespace {
// Any node: the session's kernel on whole tensors whenever an input changed.
class DeltaDense : public DeltaOp {
 public:
  DeltaDense(const DeltaOpCtx& c) : DeltaOp(c), macs_(node_cost(c.kc.graph, c.kc.node).macs) {}
  bool sparse() const override { return false; }
  int64_t run(bool) override {
    run_plain(true);
    return macs_;
  }

 private:
  int64_t macs_;
};
}  // namespace

std::unique_ptr<DeltaOp> make_delta_dense(const DeltaOpCtx& c) {
  for (DValue* d : c.out)
    if (!d) throw Error(c.kc.graph.describe(c.kc.node) + ": delta execution needs every output as a runtime value");
  return std::make_unique<DeltaDense>(c);
}

DeltaProgram::DeltaProgram(const Graph& g, const CompileOptions& copts, pthreadpool_t pool,
                           const std::vector<std::unique_ptr<Kernel>>& kernels, const std::vector<void*>& ptr)
    : g_(g), opts_(copts.delta) {
  // Values: shapes, buffers (decided below), regions.
  values_.resize(g.values.size());
  auto consumers = g.consumers();
  std::vector<char> is_output(g.values.size(), 0), is_input(g.values.size(), 0);
  for (int v : g.outputs) is_output[size_t(v)] = 1;
  for (int v : g.inputs) is_input[size_t(v)] = 1;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (val.is_const() || !ptr[v]) continue;
    auto d = std::make_unique<DValue>();
    d->id = int(v);
    d->nbytes = size_t(numel(val.shape)) * dtype_size(val.dtype);
    if (val.shape.size() == 4 && val.shape[0] == 1) d->h = val.shape[1], d->w = val.shape[2], d->c = val.shape[3];
    else d->c = numel(val.shape);
    d->arena = static_cast<float*>(ptr[v]);
    d->graph_input = d->frame_like = is_input[v];
    d->raw.init(d->h, d->w);
    d->pubr.init(d->h, d->w);
    values_[v] = std::move(d);
  }
  // Ops: the sparse form where there is one, else dense.
  using Factory = std::unique_ptr<DeltaOp> (*)(const DeltaOpCtx&);
  const Factory factories[] = {make_delta_conv, make_delta_binary, make_delta_resize, make_delta_conv_transpose,
                               make_delta_global_pool, make_delta_window_pool, make_delta_pointwise,
                               make_delta_pad, make_delta_depth_space, make_delta_concat};
  std::map<std::string, int> dense_big, dense_small;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    KernelContext kc{g, n, copts, pool};
    DeltaOpCtx c{kc, opts_, {}, {}, kernels[i].get()};
    for (int v : n.inputs) c.in.push_back(v >= 0 ? values_[size_t(v)].get() : nullptr);
    for (int v : n.outputs) c.out.push_back(values_[size_t(v)].get());
    std::unique_ptr<DeltaOp> op;
    for (Factory f : factories)
      if ((op = f(c))) break;
    DeltaStepInfo info;
    info.dense_macs = node_cost(g, n).macs;
    if (!op) {
      op = make_delta_dense(c);
      bool big = false;
      for (DValue* d : c.out) big |= d->h * d->w > 1;
      ++(big ? dense_big : dense_small)[n.op];
    }
    info.sparse = op->sparse();
    info.state_bytes = op->state_bytes();
    ops_.push_back(std::move(op));
    info_.push_back(info);
  }
  for (auto& [op, k] : dense_big)
    notes_.push_back(std::to_string(k) + " " + op + " node(s) not supported by delta execution: run densely whenever an input changes");
  for (auto& [op, k] : dense_small)
    notes_.push_back(std::to_string(k) + " " + op + " node(s) on 1x1 (global) maps run densely when their input changed");
  // Values that only pad or rearrange the frame (TFLite's explicit Pad before
  // a strided first convolution) carry the frame's camera noise: their gate
  // uses the input threshold.
  for (const Node& n : g.nodes) {
    static const char* moves[] = {"Pad", "DepthToSpace", "SpaceToDepth", "Identity"};
    if (n.inputs.empty() || n.inputs[0] < 0 || !values_[size_t(n.inputs[0])] || !values_[size_t(n.inputs[0])]->frame_like)
      continue;
    for (const char* m : moves)
      if (n.op == m && values_[size_t(n.outputs[0])]) values_[size_t(n.outputs[0])]->frame_like = true;
  }
  // Gates: inputs of sparse convolutions (tile gate, scaled by their weight
  // norm) and small global values (max |change|); never on graph outputs.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const float wn = ops_[i]->weight_norm();
    if (wn <= 0) continue;
    DValue* d = values_[size_t(g.nodes[i].inputs[0])].get();
    if (!is_output[size_t(d->id)]) d->gate = DValue::tile, d->wnorm = std::max(d->wnorm, wn);
  }
  for (auto& [name, t] : opts_.layer_thresholds) {
    DValue* d = nullptr;
    for (size_t i = 0; i < g.nodes.size() && !d; ++i)
      if (g.nodes[i].name == name && ops_[i]->weight_norm() > 0) d = values_[size_t(g.nodes[i].inputs[0])].get();
    if (!d || d->gate != DValue::tile)
      throw Error("delta layer threshold for '" + name + "': no convolution of that name with a gated input runs sparsely in this model");
    if (!(t >= 0)) throw Error("delta layer threshold for '" + name + "': must be >= 0");
    d->thr = d->thr < 0 ? t : std::min(d->thr, t);
  }
  for (auto& d : values_)
    if (d && d->gate == DValue::none && d->h * d->w == 1 && !is_output[size_t(d->id)] && !d->graph_input &&
        g.values[size_t(d->id)].dtype == DType::f32 && !consumers[size_t(d->id)].empty())
      d->gate = DValue::global;
  // Buffers: a gated value is produced into the session's buffer (read once
  // by its gate) and published into its own; other values keep their own.
  for (size_t v = 0; v < values_.size(); ++v) {
    DValue* d = values_[v].get();
    if (!d) continue;
    if (d->graph_input) d->buf = d->pub = d->arena;
    else if (d->gate != DValue::none) d->buf = d->arena;
    else {
      d->own.assign((d->nbytes + 3) / 4, 0.f);
      d->buf = d->pub = d->own.data();
    }
    if (d->gate != DValue::none) {
      d->own_pub.assign((d->nbytes + 3) / 4, 0.f);
      d->pub = d->own_pub.data();
    }
    const size_t bytes = (d->own.size() + d->own_pub.size()) * sizeof(float) + d->raw.bytes() + d->pubr.bytes();
    if (g.values[v].producer >= 0) info_[size_t(g.values[v].producer)].state_bytes += bytes;
  }
  const int tile = std::max(1, opts_.tile);
  size_t max_tiles = 0;
  for (auto& d : values_)
    if (d) max_tiles = std::max(max_tiles, size_t(((d->h + tile - 1) / tile) * ((d->w + tile - 1) / tile)));
  tile_ss_.assign(max_tiles, 0.f);
  tile_hit_.assign(max_tiles, 0);
  touched_.reserve(max_tiles);
}

DeltaProgram::~DeltaProgram() = default;

namespace {
// tile_ss[tile_of[i]] += ||a - b||^2 over the c floats of pixel list[i], for
// n listed pixels; independent partial sums so that it vectorizes, built for
// AVX-512 and the baseline (picked at load time).
__attribute__((target_clones("avx512f", "default"))) void tile_sums(const float* a, const float* b, int64_t c,
                                                                     const int32_t* list, const int32_t* tile_of,
                                                                     size_t n, float* tile_ss) {
  for (size_t i = 0; i < n; ++i) {
    const float* x = a + int64_t(list[i]) * c;
    const float* y = b + int64_t(list[i]) * c;
    float acc[16] = {};
    int64_t k = 0;
    for (; k + 16 <= c; k += 16)
      for (int j = 0; j < 16; ++j) acc[j] += (x[k + j] - y[k + j]) * (x[k + j] - y[k + j]);
    float s = 0;
    for (; k < c; ++k) s += (x[k] - y[k]) * (x[k] - y[k]);
    for (float v : acc) s += v;
    tile_ss[tile_of[i]] += s;
  }
}
}  // namespace

void DeltaProgram::reset() { first_ = true; }

void DeltaProgram::gate(DValue& v, bool force) {
  if (v.gate == DValue::none || v.raw.empty()) return;
  const int64_t C = v.c;
  auto publish = [&](int64_t p) {
    std::memcpy(v.pub + p * C, v.buf + p * C, size_t(C) * sizeof(float));
    v.pubr.mark(p);
  };
  if (force) {
    std::memcpy(v.pub, v.buf, v.nbytes);
    v.pubr.mark_all();
  } else if (v.gate == DValue::global) {
    float m = 0;
    for (int64_t i = 0; i < v.numel(); ++i) m = std::max(m, std::fabs(v.buf[i] - v.pub[i]));
    if (m > opts_.global_threshold || (opts_.global_threshold <= 0 && m > 0)) {
      std::memcpy(v.pub, v.buf, v.nbytes);
      v.pubr.mark_all();
    }
  } else {
    // ||tile of (produced - published)||_2 * weight norm > threshold, over the produced pixels.
    const int64_t tile = std::max(1, opts_.tile), tx = (v.w + tile - 1) / tile;
    const float thr = v.thr >= 0                                   ? v.thr
                      : v.frame_like && opts_.input_threshold >= 0 ? opts_.input_threshold
                                                                   : opts_.threshold;
    const float lim = thr > 0 ? (thr / v.wnorm) * (thr / v.wnorm) : 0.f;
    const auto& l = v.raw.list();
    // tile of each listed pixel (the list is sorted: one division per row)
    tile_of_.resize(l.size());
    int64_t row_start = 0, row_end = 0, tile_row = 0;
    for (size_t i = 0; i < l.size(); ++i) {
      const int64_t p = l[i];
      if (p >= row_end) {
        const int64_t y = p / v.w;
        row_start = y * v.w, row_end = row_start + v.w, tile_row = (y / tile) * tx;
      }
      tile_of_[i] = int32_t(tile_row + (p - row_start) / tile);
    }
    touched_.clear();
    for (size_t i = 0; i < l.size(); ++i) {
      const int32_t t = tile_of_[i];
      if (!tile_hit_[size_t(t)]) tile_hit_[size_t(t)] = 1, touched_.push_back(t);
    }
    tile_sums(v.buf, v.pub, C, l.data(), tile_of_.data(), l.size(), tile_ss_.data());
    for (size_t i = 0; i < l.size(); ++i)
      if (tile_ss_[size_t(tile_of_[i])] > lim) publish(l[i]);
    for (int32_t t : touched_) tile_ss_[size_t(t)] = 0.f, tile_hit_[size_t(t)] = 0;
  }
  v.pubr.finalize();
}

void DeltaProgram::run(bool profile) {
  ++frame_;
  const bool force = first_ || (opts_.refresh_every > 0 && frame_ % opts_.refresh_every == 0);
  for (auto& d : values_)
    if (d) d->raw.clear(), d->pubr.clear();
  for (int v : g_.inputs) {
    DValue& d = *values_[size_t(v)];
    d.raw.mark_all();
    d.raw.finalize();
    gate(d, force);
  }
  for (size_t i = 0; i < ops_.size(); ++i) {
    const Node& n = g_.nodes[i];
    DeltaStepInfo& info = info_[i];
    bool changed = force;
    for (int v : n.inputs)
      if (v >= 0 && values_[size_t(v)] && !values_[size_t(v)]->changed().empty()) changed = true;
    info.last_macs = 0, info.last_changed = 0, info.last_dense = false, info.last_global = false, info.last_ms = 0;
    info.last_in_raw = info.last_in_pub = force ? -1 : 0;  // -1: a full recompute, not counted by --explain
    if (!force && !n.inputs.empty() && n.inputs[0] >= 0 && values_[size_t(n.inputs[0])]) {
      const DValue& x = *values_[size_t(n.inputs[0])];
      info.last_in_raw = x.raw.fraction(), info.last_in_pub = x.changed().fraction();
    }
    if (!changed) continue;
    const auto t0 = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    info.last_macs = ops_[i]->run(force);
    info.last_dense = ops_[i]->last_dense();
    info.breakeven = ops_[i]->breakeven();
    info.last_global = ops_[i]->last_global();
    DValue& out = *values_[size_t(n.outputs[0])];
    info.last_changed = out.raw.fraction();
    for (int v : n.outputs) gate(*values_[size_t(v)], force);
    if (profile) info.last_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  // Graph outputs: the session's buffers share bytes with values the delta
  // frame wrote through the arena, so they are copied whole.
  for (int v : g_.outputs) {
    DValue& d = *values_[size_t(v)];
    if (d.pub != d.arena) std::memcpy(d.arena, d.pub, d.nbytes);
  }
  first_ = false;
}

}  // namespace ef
