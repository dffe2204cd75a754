#include "edgeflow/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

#include "edgeflow/analysis.h"

#include "graph/passes/passes.h"
#include "runtime/executor.h"
#include "runtime/kernel.h"
#include "runtime/memory_planner.h"

namespace ef {

namespace {
std::string where(const Graph& g) { return g.source.empty() ? std::string() : g.source + ": "; }

}  // namespace

void bind_input_shapes(Graph& g, const std::map<std::string, Shape>& shapes) {
  for (auto& [name, shape] : shapes) {
    bool found = false;
    for (int v : g.inputs)
      if (g.values[v].name == name) {
        Value& val = g.values[v];
        if (val.shape_known && !val.shape.empty() && val.shape.size() != shape.size())
          throw Error(where(g) + "input '" + name + "' has rank " + std::to_string(val.shape.size()) +
                      ", cannot set shape " + shape_str(shape));
        for (size_t k = 0; k < val.shape.size() && k < shape.size(); ++k)
          if (val.shape[k] >= 0 && val.shape[k] != shape[k])
            throw Error(where(g) + "input '" + name + "' has fixed shape " + shape_str(val.shape) +
                        ", cannot set " + shape_str(shape));
        val.shape = shape;
        val.shape_known = true;
        found = true;
      }
    if (!found) throw Error(where(g) + "no input named '" + name + "'");
  }
  for (int v : g.inputs) {
    Value& val = g.values[v];
    for (auto& d : val.shape)
      if (d < 0) d = 1;
    val.shape_known = true;
  }
}

Session::Session(const Model& model, CompileOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.opts = options;
  s.g = model.graph();
  if (s.opts.threads < 1) throw Error("threads must be at least 1 (got " + std::to_string(s.opts.threads) + ")");
  bind_input_shapes(s.g, s.opts.input_shapes);
  // Float16 weights kept at load (LoadOptions::keep_float16): only the
  // layers that will run them as float16 keep them (checked again below,
  // after the passes).
  const bool fp16 = s.opts.precision == Precision::fp16 && !s.opts.delta.enabled;
  widen_float16_weights(s.g, fp16, s.report);
  ConstEvaluator eval = evaluate_node;
  optimize(s.g, eval, s.report, s.opts.optimize);
  // Pads fused into their consumers. Delta execution keeps channel Pads (its
  // Pad has a sparse form, AddChannelPad has not); a zero H/W Pad moved into a
  // Conv is fine for it (the sparse Conv pads with zeros the same way), and
  // its plain (fallback) frames then cost the same as a dense session's.
  if (s.opts.optimize && !s.opts.delta.enabled) fuse_channel_pad_add(s.g, s.report, s.opts.keep_values);
  if (s.opts.optimize) fuse_pad_conv(s.g, s.report, s.opts.keep_values);
  // Residual Adds into GEMM convolutions: after fuse_pad_conv (the Conv's
  // final pads decide its kernel); not for delta execution (its sparse Conv
  // has no residual input), not with fp16 weights (another kernel).
  if (s.opts.optimize && !s.opts.delta.enabled && s.opts.precision != Precision::fp16)
    fuse_conv_add(s.g, s.report, s.opts.keep_values);
  if (s.opts.optimize && !s.opts.delta.enabled) {
    fuse_dequantize_conv_transpose(s.g, s.report, s.opts.keep_values);
    fuse_qmul_add(s.g, s.report, s.opts.keep_values);
    fuse_quantize_conv(s.g, s.report, s.opts.keep_values);
  }
  // Delta execution keeps float32 weights (its gates read them).
  if (fp16) weights_to_fp16(s.g, s.report);
  widen_float16_weights(s.g, fp16, s.report);
  s.compile();
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

void Session::Impl::compile() {
  if (opts.threads > 1) pool.reset(pthreadpool_create(size_t(opts.threads)));
  const int nsteps = int(g.nodes.size());
  // Lifetimes: graph inputs live from step 0, outputs to the end.
  std::vector<int> first(g.values.size(), -1), last(g.values.size(), -1);
  for (int v : g.inputs) first[v] = 0;
  for (int i = 0; i < nsteps; ++i) {
    for (int v : g.nodes[i].inputs)
      if (v >= 0) {
        if (first[v] < 0) first[v] = i;
        last[v] = std::max(last[v], i);
      }
    for (int v : g.nodes[i].outputs) {
      if (first[v] < 0) first[v] = i;
      last[v] = std::max(last[v], i);
    }
  }
  // Outputs stay valid until the next run, and the user writes inputs while
  // they are: neither may share bytes with anything.
  for (int v : g.outputs) last[v] = nsteps;
  for (int v : g.inputs) last[v] = nsteps;
  for (const auto& name : opts.keep_values) {
    const int v = g.find_value(name);
    if (v < 0 || g.values[v].is_const() || first[v] < 0)
      throw Error(where(g) + "keep_values: no computed value named '" + name + "' in the optimized graph");
    last[v] = nsteps;
  }
  std::vector<BufferRequest> req;
  std::vector<int> req_value;
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (g.values[v].is_const() || first[v] < 0) continue;
    req.push_back({size_t(numel(g.values[v].shape)) * dtype_size(g.values[v].dtype), first[v],
                   std::max(last[v], first[v])});
    req_value.push_back(int(v));
  }
  plan = plan_memory(req);
  arena = Tensor(DType::u8, {int64_t(plan.arena_bytes)});
  ptr.assign(g.values.size(), nullptr);
  for (size_t r = 0; r < req.size(); ++r) ptr[req_value[r]] = arena.data_as<uint8_t>() + plan.offsets[r];
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].is_const()) ptr[v] = const_cast<void*>(g.values[v].data.data());

  auto view = [&](int v) {
    TensorView tv;
    if (v < 0) return tv;
    const Value& val = g.values[v];
    tv.dtype = val.dtype;
    tv.shape = val.shape;
    tv.data = ptr[v];
    tv.quant = &val.quant;
    return tv;
  };
  kernels.clear();
  for (int i = 0; i < nsteps; ++i) {
    const Node& n = g.nodes[i];
    KernelContext ctx{g, n, opts, pool.get()};
    std::unique_ptr<Kernel> k;
    try {
      k = create_kernel(ctx);
    } catch (const Error& e) {
      throw Error(where(g) + e.what());
    }
    std::vector<TensorView> ins, outs;
    for (int v : n.inputs) ins.push_back(view(v));
    for (int v : n.outputs) outs.push_back(view(v));
    k->setup(ins, outs);
    kernels.push_back(std::move(k));
  }
  if (opts.delta.enabled) setup_delta();
  inputs.clear();
  outputs.clear();
  for (int v : g.inputs) {
    inputs.push_back(Tensor::wrap(g.values[v].dtype, g.values[v].shape, ptr[v]));
    inputs.back().quant = g.values[v].quant;
  }
  for (int v : g.outputs) {
    outputs.push_back(Tensor::wrap(g.values[v].dtype, g.values[v].shape, ptr[v]));
    outputs.back().quant = g.values[v].quant;
  }
  prof_ms.assign(nsteps, 0.0);
  prof_runs.assign(nsteps, 0);
}

void Session::Impl::setup_delta() {
  dprog = std::make_unique<DeltaProgram>(g, opts, pool.get(), kernels, ptr);
  dstats = DeltaStats{};
  for (size_t i = 0; i < kernels.size(); ++i) {
    const DeltaStepInfo& info = dprog->steps()[i];
    DeltaLayerStats l;
    l.name = g.nodes[i].name;
    l.op = g.nodes[i].op;
    l.delta = info.sparse;
    l.dense_macs = info.dense_macs;
    l.state_bytes = info.state_bytes;
    dstats.dense_macs_per_frame += l.dense_macs;
    dstats.layers.push_back(std::move(l));
  }
  dstats.notes = dprog->notes();
  for (int v : g.inputs)
    if (g.values[v].dtype == DType::f32) last_inputs.emplace_back(DType::f32, g.values[v].shape);
}

void Session::Impl::run_all() {
  if (!opts.delta.enabled) {
    run_range(0, kernels.size());
    return;
  }
  ++dstats.frames;
  if (opts.delta.frame_skip >= 0 && have_last_inputs) {
    double diff = 0, count = 0;
    for (size_t i = 0, k = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype() != DType::f32) continue;
      const float* a = inputs[i].data_as<float>();
      const float* b = last_inputs[k++].data_as<float>();
      for (int64_t j = 0; j < inputs[i].numel(); ++j) diff += std::fabs(a[j] - b[j]);
      count += double(inputs[i].numel());
    }
    if (count > 0 && diff / count < opts.delta.frame_skip) {
      ++dstats.frames_skipped;
      return;  // outputs still hold the last frame's results
    }
  }
  if (opts.delta.frame_skip >= 0) {  // only frame skipping compares against the last inputs
    for (size_t i = 0, k = 0; i < inputs.size(); ++i)
      if (inputs[i].dtype() == DType::f32)
        std::memcpy(last_inputs[k++].data(), inputs[i].data(), inputs[i].nbytes());
    have_last_inputs = true;
  }
  // Auto fallback: start with a few plain frames to learn the dense time.
  const bool fallback = opts.delta.auto_fallback;
  if (fallback && dstats.frames == 1) dense_window = 3;
  const bool dense_frame = fallback && dense_window > 0;
  auto t0 = std::chrono::steady_clock::now();
  if (dense_frame) run_range(0, kernels.size());
  else dprog->run(opts.profile);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (dense_frame) {
    dstats.dense_ms = dstats.dense_ms > 0 ? 0.7 * dstats.dense_ms + 0.3 * ms : ms;
    ++dstats.frames_dense_fallback;
    if (--dense_window == 0) {  // try delta again from a fresh state
      dprog->reset();
      delta_run_frames = 0;
    }
  } else if (fallback) {
    // The first delta frame after a (re)start is a dense initialisation: not timed.
    if (++delta_run_frames > 1) {
      dstats.delta_ms = delta_run_frames == 2 ? ms : 0.7 * dstats.delta_ms + 0.3 * ms;
      if (delta_run_frames >= 3 && dstats.dense_ms > 0 && dstats.delta_ms > 0.95 * dstats.dense_ms)
        dense_window = opts.delta.fallback_frames;
    }
  }
  if (!dense_frame && !dprog->steps().empty() && dprog->steps()[0].last_in_raw >= 0) ++dstats.frames_explained;
  for (size_t i = 0; i < kernels.size(); ++i) {
    auto& l = dstats.layers[i];
    const DeltaStepInfo& info = dprog->steps()[i];
    const int64_t macs = dense_frame ? l.dense_macs : info.last_macs;
    l.executed_macs += macs;
    l.changed_fraction += dense_frame ? 1.0 : info.last_changed;
    l.dense_runs += dense_frame || info.last_dense;
    if (!dense_frame) {
      l.ms += info.last_ms;
      l.breakeven = info.breakeven;
      if (info.last_in_raw >= 0) {
        l.input_rewritten += info.last_in_raw, l.input_published += info.last_in_pub;
        l.output_changed += info.last_changed;
        l.global_frames += info.last_global, l.dense_kernel_frames += info.last_dense;
      }
    }
    dstats.executed_macs += macs;
  }
}

void Session::Impl::run_range(size_t begin, size_t end) {
  if (end > kernels.size() || begin > end)
    throw Error("run_range(" + std::to_string(begin) + ", " + std::to_string(end) + "): the session has " +
                std::to_string(kernels.size()) + " steps");
  if (!opts.profile) {
    for (size_t i = begin; i < end; ++i) kernels[i]->run();
    return;
  }
  for (size_t i = begin; i < end; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    kernels[i]->run();
    auto t1 = std::chrono::steady_clock::now();
    prof_ms[i] += std::chrono::duration<double, std::milli>(t1 - t0).count();
    ++prof_runs[i];
  }
}

size_t Session::num_inputs() const { return impl_->g.inputs.size(); }
size_t Session::num_outputs() const { return impl_->g.outputs.size(); }
const Value& Session::input_info(size_t i) const { return impl_->g.values.at(impl_->g.inputs.at(i)); }
const Value& Session::output_info(size_t i) const { return impl_->g.values.at(impl_->g.outputs.at(i)); }
int Session::input_index(const std::string& name) const {
  for (size_t i = 0; i < num_inputs(); ++i)
    if (input_info(i).name == name) return int(i);
  return -1;
}
Tensor& Session::input(size_t i) { return impl_->inputs.at(i); }
const Tensor& Session::output(size_t i) const { return impl_->outputs.at(i); }
const std::vector<Tensor>& Session::outputs() const { return impl_->outputs; }

Tensor Session::value(const std::string& name) const {
  const Graph& g = impl_->g;
  const int v = g.find_value(name);
  const auto& keep = impl_->opts.keep_values;
  const bool io = std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end() ||
                  std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
  if (v < 0 || !(io || std::find(keep.begin(), keep.end(), name) != keep.end()))
    throw Error(where(g) + "value '" + name + "' is not kept (list it in CompileOptions::keep_values)");
  Tensor t = Tensor::wrap(g.values[v].dtype, g.values[v].shape, impl_->ptr[v]);
  t.quant = g.values[v].quant;
  return t;
}
void Session::run() { impl_->run_all(); }

DeltaStats Session::delta_stats() const {
  if (!impl_->opts.delta.enabled) throw Error("delta_stats: the session was compiled without delta execution");
  return impl_->dstats;
}

void Session::reset_delta() {
  if (impl_->dprog) impl_->dprog->reset();
  impl_->delta_run_frames = 0;
  impl_->have_last_inputs = false;
}
void Session::run_range(size_t b, size_t e) { impl_->run_range(b, e); }
size_t Session::num_steps() const { return impl_->kernels.size(); }
const Node& Session::step_node(size_t i) const { return impl_->g.nodes.at(i); }
const Graph& Session::graph() const { return impl_->g; }
const OptimizeReport& Session::report() const { return impl_->report; }
const CompileOptions& Session::options() const { return impl_->opts; }
size_t Session::arena_bytes() const { return impl_->plan.arena_bytes; }
size_t Session::naive_activation_bytes() const { return impl_->plan.naive_bytes; }

static void copy_checked(const Graph& g, const Value& info, Tensor& dst, const Tensor& src) {
  if (src.dtype() != info.dtype || src.shape() != info.shape)
    throw Error(where(g) + "input '" + info.name + "': expected " + dtype_name(info.dtype) + shape_str(info.shape) +
                ", got " + dtype_name(src.dtype()) + shape_str(src.shape()));
  if (src.data() != dst.data()) std::memcpy(dst.data(), src.data(), src.nbytes());
}

const std::vector<Tensor>& Session::run(const std::vector<Tensor>& in) {
  if (in.size() != num_inputs())
    throw Error(where(impl_->g) + "expected " + std::to_string(num_inputs()) + " input(s), got " +
                std::to_string(in.size()));
  for (size_t i = 0; i < in.size(); ++i) copy_checked(impl_->g, input_info(i), impl_->inputs[i], in[i]);
  run();
  return impl_->outputs;
}

const std::vector<Tensor>& Session::run(const std::map<std::string, Tensor>& in) {
  for (auto& [name, t] : in) {
    int i = input_index(name);
    if (i < 0) throw Error(where(impl_->g) + "the model has no input named '" + name + "'");
    copy_checked(impl_->g, input_info(i), impl_->inputs[i], t);
  }
  if (in.size() != num_inputs())
    throw Error(where(impl_->g) + "expected " + std::to_string(num_inputs()) + " input(s), got " +
                std::to_string(in.size()));
  run();
  return impl_->outputs;
}

std::vector<LayerProfile> Session::profile() const {
  std::vector<LayerProfile> p;
  for (size_t i = 0; i < impl_->kernels.size(); ++i) {
    const Node& n = impl_->g.nodes[i];
    LayerProfile l;
    l.name = n.name;
    l.op = n.op;
    l.impl = impl_->kernels[i]->impl();
    l.total_ms = impl_->prof_ms[i];
    l.runs = impl_->prof_runs[i];
    p.push_back(std::move(l));
  }
  return p;
}

void Session::set_profiling(bool on) { impl_->opts.profile = on; }

void Session::reset_profile() {
  std::fill(impl_->prof_ms.begin(), impl_->prof_ms.end(), 0.0);
  std::fill(impl_->prof_runs.begin(), impl_->prof_runs.end(), 0);
}

}  // namespace ef
