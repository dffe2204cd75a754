// Pipelines: a graph of nodes with named, typed ports, linked in YAML, run by
// a scheduler (one thread per node) over bounded queues.
//
//   auto p = ef::pipe::Pipeline::load("pipelines/meeting.yaml", {{"input", "clip.mp4"}});
//   ef::pipe::RunSummary s = p.run();
//
// Packets carry the frame's timestamp; a node with several inputs gets them
// joined by timestamp. A source emits a new frame only while fewer than
// `max_in_flight` of its frames are still being processed (a flow limiter):
// a live source drops (and counts) the frames it cannot emit, a file source
// waits, so file processing sees every frame.
#pragma once
#include <any>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "edgeflow/session.h"
#include "edgeflow/vision.h"

namespace ef::pipe {

using Clock = std::chrono::steady_clock;

// Port types. A link is only valid between ports of the same type; an input
// of type "any" accepts everything.
namespace types {
inline constexpr const char* image = "image";            // cv::Mat, 8-bit BGR
inline constexpr const char* mask = "mask";              // cv::Mat CV_32F [0,1], frame size
inline constexpr const char* tensors = "tensors";        // pipe::TensorPacket
inline constexpr const char* detections = "detections";  // pipe::Detections
inline constexpr const char* rect = "rect";              // cv::Rect2f (pixels)
inline constexpr const char* speaker = "speaker";        // int: index of the active speaker box, -1 none
inline constexpr const char* any = "any";
}  // namespace types

// Keeps a source's in-flight counter up while any packet of the frame lives.
struct FrameTicket;

struct Packet {
  int64_t ts = -1;    // timestamp (microseconds, from the source)
  int64_t seq = -1;   // frame index at the source
  Clock::time_point born{};  // when the source emitted the frame (end-to-end latency)
  std::shared_ptr<const std::any> data;
  std::shared_ptr<FrameTicket> ticket;

  bool empty() const { return !data; }
  template <class T>
  const T& as() const {
    const T* p = std::any_cast<T>(data.get());
    if (!p) throw std::bad_any_cast();
    return *p;
  }
};

// ---------------------------------------------------------------- node specs
struct PortSpec {
  std::string name, type;
  bool optional = false;  // inputs: may stay unlinked
  std::string help;
};
struct ParamSpec {
  std::string name;
  std::string type;  // int | float | bool | string | strings
  std::string def;   // default, as written in YAML ("" = required unless optional)
  std::string help;
  bool required = false;
};

// Node parameters as given in YAML (after ${setting} substitution), typed
// accessors that name the YAML file and line in every error.
class Params {
 public:
  Params() = default;
  Params(std::string where, std::map<std::string, std::string> values, std::map<std::string, std::vector<std::string>> lists,
         std::map<std::string, std::string> locs)
      : where_(std::move(where)), v_(std::move(values)), lists_(std::move(lists)), locs_(std::move(locs)) {}
  bool has(const std::string& k) const { return v_.count(k) || lists_.count(k); }
  std::string str(const std::string& k, const std::string& def = "") const;
  int64_t i(const std::string& k, int64_t def) const;
  double f(const std::string& k, double def) const;
  bool b(const std::string& k, bool def) const;
  std::vector<std::string> strings(const std::string& k) const;  // scalar or list
  std::vector<double> floats(const std::string& k, std::vector<double> def) const;
  // "file:line: node 'id' param 'k'" for messages
  std::string where(const std::string& k = "") const;
  void set(const std::string& k, const std::string& v) { v_[k] = v; }
  std::vector<std::string> keys() const;

 private:
  std::string where_;
  std::map<std::string, std::string> v_;
  std::map<std::string, std::vector<std::string>> lists_;
  std::map<std::string, std::string> locs_;
};

class Node;
struct Stats;

// What a node sees while it runs.
class Context {
 public:
  virtual ~Context() = default;
  virtual bool stopping() const = 0;
  virtual const std::string& node_id() const = 0;
  // The pipeline's live statistics (for the stats node).
  virtual std::string stats_line() const = 0;
};

// Inputs of one step: one packet per linked input (joined by timestamp);
// unlinked optional inputs and side inputs that have not arrived are empty.
class Inputs {
 public:
  const Packet& operator[](const std::string& port) const;
  bool has(const std::string& port) const;
  int64_t ts() const { return ts_; }
  int64_t seq() const { return seq_; }
  std::vector<std::pair<std::string, Packet>> items;
  int64_t ts_ = -1, seq_ = -1;
};

class Outputs {
 public:
  template <class T>
  void emit(const std::string& port, T value) {
    emit_any(port, std::make_shared<const std::any>(std::move(value)));
  }
  void emit_any(const std::string& port, std::shared_ptr<const std::any> v);
  // For sources: the timestamp of the frame being emitted.
  void set_time(int64_t ts, int64_t seq) { ts_ = ts; seq_ = seq; }
  // For sources: the moment the frame arrived (after waiting for a camera or
  // a paced file); end-to-end latency counts from here. Default: the start
  // of generate().
  void set_captured(Clock::time_point t = Clock::now()) { captured_ = t; }
  std::function<void(const std::string&, std::shared_ptr<const std::any>)> sink_;
  int64_t ts_ = -1, seq_ = -1;
  Clock::time_point captured_{};
};

// A node type: one class derived from Node plus one registration
// (EF_REGISTER_PIPELINE_NODE). Sources implement generate(); every other
// node implements process().
class Node {
 public:
  virtual ~Node() = default;
  // Called once on the node's thread before the first frame.
  virtual void open(Context& ctx) {}
  // Sources: produce one frame into `out` (call out.set_time first); return
  // false at end of stream.
  virtual bool generate(Context& ctx, Outputs& out) { return false; }
  // Everything else: one joined set of inputs -> outputs.
  virtual void process(Context& ctx, const Inputs& in, Outputs& out) {}
  // Called once at the end (also after errors).
  virtual void close(Context& ctx) {}
  // Sources: a live source (camera) drops frames when the pipeline is busy.
  virtual bool live() const { return false; }
  // Sources: number of frames if known (progress bar), else -1.
  virtual int64_t frame_count() const { return -1; }
};

struct NodeType {
  std::string name, help;
  bool source = false;
  std::vector<PortSpec> inputs, outputs;
  std::vector<ParamSpec> params;
  std::function<std::unique_ptr<Node>(const Params&)> create;
};
void register_node_type(NodeType t);
const NodeType* find_node_type(const std::string& name);
std::vector<const NodeType*> node_types();

#define EF_PIPE_CONCAT_INNER(a, b) a##b
#define EF_PIPE_CONCAT(a, b) EF_PIPE_CONCAT_INNER(a, b)
#define EF_REGISTER_PIPELINE_NODE(TYPE_FN) \
  static const bool EF_PIPE_CONCAT(ef_pipe_node_, __COUNTER__) = (::ef::pipe::register_node_type(TYPE_FN()), true)

// ---------------------------------------------------------------- payloads

struct TensorPacket {
  std::vector<ef::Tensor> outputs;  // copies of the model outputs
  vision::Letterbox letterbox;
  cv::Size image_size;
  std::string model;  // file the outputs came from
};
struct Detections {
  std::vector<vision::Detection> items;  // normalized image coords
  cv::Size image_size;
};

// ---------------------------------------------------------------- the graph
enum class QueuePolicy { block, keep_newest };

struct LinkConfig {
  std::string from_node, from_port, to_node, to_port;
  QueuePolicy policy = QueuePolicy::block;
  int capacity = 4;
  bool sync = true;  // false: side input (latest value, not joined)
  std::string loc;   // "file:line"
};
struct NodeConfig {
  std::string id, type, loc;
  Params params;
};
struct PipelineConfig {
  std::string file, name;
  std::vector<NodeConfig> nodes;
  std::vector<LinkConfig> links;
  int max_in_flight = 2;
  double stats_every = 0;  // seconds between live stats lines on stderr (0 = off)
  bool progress = false;
  // OpenCV's own worker threads inside node calls; 1 avoids oversubscribing
  // the cores the node threads already use (0 = OpenCV's default).
  int opencv_threads = 1;
  std::map<std::string, std::string> settings;
};

// Parse YAML text; `file` names it in messages. `overrides` replace settings
// (key=value) or node params (node.param=value).
PipelineConfig parse_pipeline(const std::string& yaml_text, const std::string& file,
                              const std::map<std::string, std::string>& overrides = {});
PipelineConfig load_pipeline(const std::string& path, const std::map<std::string, std::string>& overrides = {});

struct NodeStats {
  std::string id, type;
  int64_t in = 0, out = 0, dropped = 0, join_dropped = 0;
  double p50_ms = 0, p95_ms = 0, mean_ms = 0;  // wall time per frame
  double cpu_ms = 0;  // mean CPU time per frame of the node's thread (robust to a busy machine)
};
struct RunSummary {
  int64_t frames_in = 0;      // frames emitted by sources
  int64_t frames_out = 0;     // frames that reached a sink (max over sinks)
  int64_t source_dropped = 0; // dropped by the flow limiter
  int64_t queue_dropped = 0;  // dropped by keep_newest queues and joins
  double seconds = 0, fps = 0;
  double latency_p50_ms = 0, latency_p95_ms = 0;  // source -> sink
  // The longest source -> sink chain of nodes by mean CPU time per frame: the
  // latency an idle machine would give, for comparing runs on a busy one.
  double critical_path_cpu_ms = 0;
  std::vector<NodeStats> nodes;
  std::string text() const;  // multi-line report, last line "pipeline: N frames ... FPS"
};

class Pipeline {
 public:
  // Validates everything (types, ports, params, links, cycles) and creates
  // the nodes; throws ef::Error naming the YAML file and line.
  explicit Pipeline(PipelineConfig cfg);
  ~Pipeline();
  static Pipeline load(const std::string& path, const std::map<std::string, std::string>& overrides = {});
  Pipeline(Pipeline&&) noexcept;

  // Runs to the end of every source (or stop()); rethrows the first node
  // error as ef::Error naming the node and its YAML line.
  RunSummary run();
  void stop();  // thread-safe
  const PipelineConfig& config() const;
  std::string describe() const;  // the graph, for `pipeline check`

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "1280x720" -> size; throws naming `what`.
cv::Size parse_size(const std::string& s, const std::string& what);

}  // namespace ef::pipe
