// Pipeline validation and the scheduler: one thread per node, bounded input
// queues (block | keep_newest), timestamp joins, a flow limiter at every
// source, clean shutdown on end of stream, on error and on stop().
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <pthread.h>

#include "edgeflow/pipeline.h"

namespace ef::pipe {

// In-flight accounting for one source: every packet derived from a frame
// holds the frame's ticket; when the last one dies the frame has left the
// graph (consumed or dropped).
struct FlightState {
  std::mutex m;
  std::condition_variable cv;
  int n = 0;
};
struct FrameTicket {
  std::shared_ptr<FlightState> st;
  ~FrameTicket() {
    std::lock_guard<std::mutex> lk(st->m);
    --st->n;
    st->cv.notify_all();
  }
};

namespace {

double thread_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

double percentile(std::vector<float> v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, size_t(q * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

struct Queue {
  std::string port;
  const LinkConfig* link = nullptr;
  std::deque<Packet> q;
  Packet latest;  // side inputs (sync: false)
  bool closed = false;
  int64_t dropped = 0;
};

}  // namespace

struct Runner;
struct Consumer {
  Runner* r;
  int queue;
};

struct Runner {
  NodeConfig cfg;
  const NodeType* type = nullptr;
  std::unique_ptr<Node> node;
  std::vector<Queue> queues;                          // linked inputs
  std::map<std::string, std::vector<Consumer>> outs;  // output port -> consumers
  std::mutex m;
  std::condition_variable cv_data, cv_space;
  // stats
  std::mutex sm;
  std::vector<float> times_ms;
  std::vector<float> latency_ms;  // sinks: source -> here
  int64_t in = 0, out = 0, join_dropped = 0, source_dropped = 0;
  double cpu_ms = 0;  // sum over frames
  std::shared_ptr<FlightState> flight = std::make_shared<FlightState>();
  int64_t frame_count = -1;
  bool is_sink() const { return type->outputs.empty(); }
};

struct Pipeline::Impl : Context {
  PipelineConfig cfg;
  std::vector<std::unique_ptr<Runner>> runners;
  std::atomic<bool> stop_flag{false};
  std::mutex err_m;
  std::string error;
  int max_in_flight = 2;
  thread_local static Runner* current;

  bool stopping() const override { return stop_flag.load(); }
  const std::string& node_id() const override { return current->cfg.id; }
  std::string stats_line() const override;

  void stop_all() {
    stop_flag = true;
    for (auto& r : runners) {
      std::lock_guard<std::mutex> lk(r->m);
      r->cv_data.notify_all();
      r->cv_space.notify_all();
    }
    for (auto& r : runners) {
      std::lock_guard<std::mutex> lk(r->flight->m);
      r->flight->cv.notify_all();
    }
  }
  void fail(Runner& r, const std::string& what) {
    {
      std::lock_guard<std::mutex> lk(err_m);
      if (error.empty()) error = r.cfg.loc + ": node '" + r.cfg.id + "' (" + r.cfg.type + "): " + what;
    }
    stop_all();
  }
  void push(Runner& from, const std::string& port, const Packet& p);
  void close_outputs(Runner& r);
  void run_source(Runner& r);
  void run_node(Runner& r);
  void thread_main(Runner& r);
};
thread_local Runner* Pipeline::Impl::current = nullptr;

void Pipeline::Impl::push(Runner& from, const std::string& port, const Packet& p) {
  {
    std::lock_guard<std::mutex> lk(from.sm);
    ++from.out;
  }
  auto it = from.outs.find(port);
  if (it == from.outs.end()) return;
  for (auto& c : it->second) {
    Runner& to = *c.r;
    std::unique_lock<std::mutex> lk(to.m);
    Queue& q = to.queues[c.queue];
    if (!q.link->sync) {
      q.latest = p;
      q.latest.ticket.reset();  // a side value does not hold its frame in flight
      to.cv_data.notify_all();
      continue;
    }
    if (q.link->policy == QueuePolicy::keep_newest) {
      while (int(q.q.size()) >= q.link->capacity) {
        q.q.pop_front();
        ++q.dropped;
      }
    } else {
      to.cv_space.wait(lk, [&] { return int(q.q.size()) < q.link->capacity || stop_flag.load(); });
      if (stop_flag) return;
    }
    q.q.push_back(p);
    to.cv_data.notify_all();
  }
}

void Pipeline::Impl::close_outputs(Runner& r) {
  for (auto& [port, cs] : r.outs)
    for (auto& c : cs) {
      std::lock_guard<std::mutex> lk(c.r->m);
      c.r->queues[c.queue].closed = true;
      c.r->cv_data.notify_all();
    }
}

void Pipeline::Impl::run_source(Runner& r) {
  const bool live = r.node->live();
  r.frame_count = r.node->frame_count();
  int64_t ts = -1, seq = -1;
  std::shared_ptr<FrameTicket> ticket;
  Clock::time_point born;
  Outputs out;
  out.sink_ = [&](const std::string& port, std::shared_ptr<const std::any> v) {
    Packet p;
    p.ts = out.ts_;
    p.seq = out.seq_;
    p.born = born;
    p.data = std::move(v);
    p.ticket = ticket;
    push(r, port, p);
  };
  // Live sources capture first, then drop if the graph is full; file sources
  // wait for room and lose nothing.
  std::vector<std::pair<std::string, std::shared_ptr<const std::any>>> staged;
  Outputs stage;
  stage.sink_ = [&](const std::string& port, std::shared_ptr<const std::any> v) { staged.emplace_back(port, std::move(v)); };
  while (!stop_flag) {
    if (!live) {
      std::unique_lock<std::mutex> lk(r.flight->m);
      r.flight->cv.wait(lk, [&] { return r.flight->n < max_in_flight || stop_flag.load(); });
      if (stop_flag) break;
    }
    staged.clear();
    stage.ts_ = stage.seq_ = -1;
    stage.captured_ = {};
    auto t0 = Clock::now();
    double c0 = thread_cpu_ms();
    if (!r.node->generate(*this, stage)) break;
    auto t1 = Clock::now();
    double c1 = thread_cpu_ms();
    if (stage.captured_ != Clock::time_point{}) t0 = stage.captured_;  // not the wait for the frame
    ++seq;
    ts = stage.ts_ >= 0 ? stage.ts_ : seq;
    {
      std::lock_guard<std::mutex> lk(r.sm);
      r.times_ms.push_back(std::chrono::duration<float, std::milli>(t1 - t0).count());
      r.cpu_ms += c1 - c0;
      ++r.in;
    }
    {
      std::lock_guard<std::mutex> lk(r.flight->m);
      if (r.flight->n >= max_in_flight) {
        // only reachable for live sources
        std::lock_guard<std::mutex> lk2(r.sm);
        ++r.source_dropped;
        continue;
      }
      ++r.flight->n;
    }
    ticket = std::shared_ptr<FrameTicket>(new FrameTicket{r.flight});
    born = t0;
    out.ts_ = ts;
    out.seq_ = stage.seq_ >= 0 ? stage.seq_ : seq;
    for (auto& [port, v] : staged) out.sink_(port, v);
    ticket.reset();
    staged.clear();
  }
}

void Pipeline::Impl::run_node(Runner& r) {
  Inputs in;
  const Packet* primary = nullptr;
  Outputs out;
  out.sink_ = [&](const std::string& port, std::shared_ptr<const std::any> v) {
    Packet p = *primary;
    p.data = std::move(v);
    push(r, port, p);
  };
  std::vector<int> sync_q, side_q;
  for (size_t i = 0; i < r.queues.size(); ++i) (r.queues[i].link->sync ? sync_q : side_q).push_back(int(i));
  for (;;) {
    in.items.clear();
    {
      std::unique_lock<std::mutex> lk(r.m);
      bool got = false, eos = false;
      while (!got && !eos && !stop_flag) {
        bool all = true;
        for (int i : sync_q) {
          if (r.queues[i].q.empty()) {
            all = false;
            if (r.queues[i].closed) eos = true;
          }
        }
        if (all) {
          // join by timestamp: drop heads older than the newest head
          int64_t t = -1;
          for (int i : sync_q) t = std::max(t, r.queues[i].q.front().ts);
          bool match = true;
          for (int i : sync_q) {
            auto& q = r.queues[i].q;
            while (!q.empty() && q.front().ts < t) {
              q.pop_front();
              ++r.join_dropped;
            }
            if (q.empty() || q.front().ts != t) match = false;
          }
          r.cv_space.notify_all();
          if (match) {
            for (int i : sync_q) {
              in.items.emplace_back(r.queues[i].port, std::move(r.queues[i].q.front()));
              r.queues[i].q.pop_front();
            }
            for (int i : side_q)
              if (!r.queues[i].latest.empty()) in.items.emplace_back(r.queues[i].port, r.queues[i].latest);
            got = true;
            break;
          }
          continue;
        }
        if (eos) break;
        r.cv_data.wait(lk);
      }
      r.cv_space.notify_all();
      if (!got) break;
    }
    primary = &in.items.front().second;
    in.ts_ = primary->ts;
    in.seq_ = primary->seq;
    auto t0 = Clock::now();
    double c0 = thread_cpu_ms();
    r.node->process(*this, in, out);
    auto t1 = Clock::now();
    double c1 = thread_cpu_ms();
    std::lock_guard<std::mutex> lk(r.sm);
    r.times_ms.push_back(std::chrono::duration<float, std::milli>(t1 - t0).count());
    r.cpu_ms += c1 - c0;
    ++r.in;
    if (r.is_sink()) r.latency_ms.push_back(std::chrono::duration<float, std::milli>(t1 - primary->born).count());
  }
}

void Pipeline::Impl::thread_main(Runner& r) {
  current = &r;
  pthread_setname_np(pthread_self(), r.cfg.id.substr(0, 15).c_str());  // node ids in top -H, perf, gdb
  bool opened = false;
  try {
    r.node->open(*this);
    opened = true;
    if (r.type->source) run_source(r);
    else run_node(r);
  } catch (const std::exception& e) {
    fail(r, e.what());
  } catch (...) {
    fail(r, "unknown exception");
  }
  close_outputs(r);
  if (opened) {
    try {
      r.node->close(*this);
    } catch (const std::exception& e) {
      fail(r, std::string("while closing: ") + e.what());
    }
  }
  // drop whatever is left (releases tickets of a stopped graph)
  std::lock_guard<std::mutex> lk(r.m);
  for (auto& q : r.queues) q.q.clear();
  r.cv_space.notify_all();
}

std::string Pipeline::Impl::stats_line() const {
  std::ostringstream os;
  int64_t in = 0, out = 0, drops = 0, total = -1;
  std::string per;
  for (auto& r : runners) {
    std::lock_guard<std::mutex> lk(r->sm);
    if (r->type->source) {
      in += r->in;
      drops += r->source_dropped;
      if (r->frame_count > 0) total = r->frame_count;
    }
    if (r->is_sink()) out = std::max(out, r->in);
    std::vector<float> last(r->times_ms.end() - std::min<size_t>(r->times_ms.size(), 200), r->times_ms.end());
    char buf[96];
    std::snprintf(buf, sizeof buf, " %s %.1f/%.1f", r->cfg.id.c_str(), percentile(last, 0.5), percentile(last, 0.95));
    per += buf;
  }
  if (total > 0) {
    int w = 20, done = int(std::min<int64_t>(w, out * w / total));
    os << "[" << std::string(done, '#') << std::string(w - done, '.') << "] " << out << "/" << total << " ";
  }
  os << "in " << in << " out " << out << " drops " << drops << " | ms p50/p95:" << per;
  return os.str();
}

// ---------------------------------------------------------------- validation

Pipeline::Pipeline(PipelineConfig cfg) : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.cfg = std::move(cfg);
  const std::string& file = I.cfg.file;
  std::map<std::string, Runner*> by_id;
  if (I.cfg.nodes.empty()) throw Error(file + ": the pipeline has no nodes");
  for (auto& nc : I.cfg.nodes) {
    auto r = std::make_unique<Runner>();
    r->cfg = nc;
    r->type = find_node_type(nc.type);
    if (!r->type) {
      std::string known;
      for (auto* t : node_types()) known += (known.empty() ? "" : ", ") + t->name;
      throw Error(nc.loc + ": node '" + nc.id + "': unknown node type '" + nc.type + "' (known: " + known + ")");
    }
    by_id[nc.id] = r.get();
    I.runners.push_back(std::move(r));
  }
  // links: ports and types
  std::map<std::string, std::set<std::string>> linked_inputs;
  for (auto& l : I.cfg.links) {
    Runner* to = by_id.at(l.to_node);
    const std::string what = l.loc + ": node '" + l.to_node + "' (" + to->type->name + ")";
    const PortSpec* ip = nullptr;
    for (auto& p : to->type->inputs)
      if (p.name == l.to_port) ip = &p;
    if (!ip) {
      std::string have;
      for (auto& p : to->type->inputs) have += (have.empty() ? "" : ", ") + p.name + " (" + p.type + ")";
      throw Error(what + ": no input port '" + l.to_port + "' (inputs: " + (have.empty() ? "none, it is a source" : have) + ")");
    }
    auto fit = by_id.find(l.from_node);
    if (fit == by_id.end())
      throw Error(what + " input '" + l.to_port + "': no node '" + l.from_node + "' in " + file);
    Runner* from = fit->second;
    const PortSpec* op = nullptr;
    for (auto& p : from->type->outputs)
      if (p.name == l.from_port) op = &p;
    if (!op) {
      std::string have;
      for (auto& p : from->type->outputs) have += (have.empty() ? "" : ", ") + p.name + " (" + p.type + ")";
      throw Error(what + " input '" + l.to_port + "': node '" + l.from_node + "' (" + from->type->name +
                  ") has no output port '" + l.from_port + "' (outputs: " + (have.empty() ? "none, it is a sink" : have) + ")");
    }
    if (ip->type != types::any && ip->type != op->type)
      throw Error(what + ": cannot link " + l.from_node + "." + l.from_port + " (" + op->type + ") to input '" +
                  l.to_port + "' (" + ip->type + "): the port types differ");
    if (!linked_inputs[l.to_node].insert(l.to_port).second)
      throw Error(what + ": input '" + l.to_port + "' is linked twice");
    Queue q;
    q.port = l.to_port;
    q.link = &l;
    to->queues.push_back(q);
    from->outs[l.from_port].push_back({to, int(to->queues.size()) - 1});
  }
  for (auto& r : I.runners) {
    const std::string what = r->cfg.loc + ": node '" + r->cfg.id + "' (" + r->type->name + ")";
    for (auto& p : r->type->inputs)
      if (!p.optional && !linked_inputs[r->cfg.id].count(p.name))
        throw Error(what + ": input '" + p.name + "' (" + p.type + ") is not linked (add inputs: {" + p.name + ": NODE.PORT})");
    if (!r->type->source) {
      bool any_sync = false;
      for (auto& q : r->queues) any_sync |= q.link->sync;
      if (!any_sync) throw Error(what + ": needs at least one linked input with sync: true");
    }
    // parameters: required ones, types
    for (auto& ps : r->type->params) {
      const Params& P = r->cfg.params;
      if (ps.required && !P.has(ps.name)) throw Error(what + ": missing required parameter '" + ps.name + "' (" + ps.help + ")");
      if (!P.has(ps.name)) continue;
      if (ps.type == "int") P.i(ps.name, 0);
      else if (ps.type == "float") P.f(ps.name, 0);
      else if (ps.type == "bool") P.b(ps.name, false);
      else if (ps.type == "string") P.str(ps.name);
    }
  }
  // unknown parameters
  for (auto& r : I.runners) {
    std::set<std::string> known;
    std::string list;
    for (auto& ps : r->type->params) known.insert(ps.name), list += (list.empty() ? "" : ", ") + ps.name;
    for (auto& k : r->cfg.params.keys())
      if (!known.count(k))
        throw Error(r->cfg.params.where(k) + ": unknown parameter (parameters of " + r->type->name + ": " +
                    (list.empty() ? "none" : list) + ")");
  }
  // cycles (DFS over links)
  {
    std::map<std::string, std::vector<std::string>> adj;
    std::map<std::string, const LinkConfig*> edge;
    for (auto& l : I.cfg.links) adj[l.from_node].push_back(l.to_node), edge[l.from_node + ">" + l.to_node] = &l;
    std::map<std::string, int> state;
    std::vector<std::string> stack;
    std::function<void(const std::string&)> dfs = [&](const std::string& u) {
      state[u] = 1;
      stack.push_back(u);
      for (auto& v : adj[u]) {
        if (state[v] == 1) {
          std::string cyc;
          auto it = std::find(stack.begin(), stack.end(), v);
          for (; it != stack.end(); ++it) cyc += *it + " -> ";
          cyc += v;
          throw Error(edge[u + ">" + v]->loc + ": node '" + v + "': the links form a cycle: " + cyc);
        }
        if (state[v] == 0) dfs(v);
      }
      stack.pop_back();
      state[u] = 2;
    };
    for (auto& r : I.runners)
      if (state[r->cfg.id] == 0) dfs(r->cfg.id);
  }
  bool any_source = false;
  for (auto& r : I.runners) any_source |= r->type->source;
  if (!any_source) throw Error(file + ": the pipeline has no source node");
  // The flow limiter keeps at most max_in_flight frames per source in the
  // graph; with every blocking queue at least that deep, a push can never
  // wait on a full queue that waits on it (no deadlock in diamonds).
  I.max_in_flight = I.cfg.max_in_flight;
  for (auto& l : I.cfg.links)
    if (l.policy == QueuePolicy::block && l.sync) I.max_in_flight = std::min(I.max_in_flight, l.capacity);
  // create the nodes (models load here: a missing file fails now)
  for (auto& r : I.runners) {
    try {
      r->node = r->type->create(r->cfg.params);
    } catch (const Error& e) {
      std::string m = e.what();
      // messages from Params already carry the location
      if (m.rfind(r->cfg.loc, 0) == 0 || m.find(".yaml:") != std::string::npos || m.find("--set") == 0) throw;
      throw Error(r->cfg.loc + ": node '" + r->cfg.id + "' (" + r->type->name + "): " + m);
    }
  }
}

Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline Pipeline::load(const std::string& path, const std::map<std::string, std::string>& overrides) {
  return Pipeline(load_pipeline(path, overrides));
}
const PipelineConfig& Pipeline::config() const { return impl_->cfg; }
void Pipeline::stop() { impl_->stop_all(); }

std::string Pipeline::describe() const {
  std::ostringstream os;
  auto& I = *impl_;
  os << "pipeline " << (I.cfg.name.empty() ? I.cfg.file : I.cfg.name) << ": " << I.runners.size() << " nodes, "
     << I.cfg.links.size() << " links, max_in_flight " << I.max_in_flight << "\n";
  for (auto& r : I.runners) {
    os << "  " << r->cfg.id << " (" << r->type->name << ")\n";
    for (auto& q : r->queues)
      os << "    <- " << q.port << " from " << q.link->from_node << "." << q.link->from_port << " ["
         << (q.link->sync ? (q.link->policy == QueuePolicy::block ? "block" : "keep_newest") : "side") << ", capacity "
         << q.link->capacity << "]\n";
  }
  return os.str();
}

RunSummary Pipeline::run() {
  auto& I = *impl_;
  I.stop_flag = false;
  int cv_threads = cv::getNumThreads();
  if (I.cfg.opencv_threads > 0) cv::setNumThreads(I.cfg.opencv_threads);
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (auto& r : I.runners) threads.emplace_back([&I, rp = r.get()] { I.thread_main(*rp); });
  std::atomic<bool> done{false};
  std::thread monitor;
  if (I.cfg.stats_every > 0 || I.cfg.progress) {
    monitor = std::thread([&] {
      double every = I.cfg.stats_every > 0 ? I.cfg.stats_every : 0.5;
      auto next = Clock::now();
      while (!done) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (Clock::now() < next) continue;
        next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(every));
        std::fprintf(stderr, "\r%s\033[K", I.stats_line().c_str());
        if (I.cfg.stats_every > 0 && !I.cfg.progress) std::fprintf(stderr, "\n");
        std::fflush(stderr);
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  if (monitor.joinable()) {
    monitor.join();
    std::fprintf(stderr, "\r%s\033[K\n", I.stats_line().c_str());
  }
  auto t1 = Clock::now();
  cv::setNumThreads(cv_threads);
  if (!I.error.empty()) throw Error(I.error);
  RunSummary s;
  s.seconds = std::chrono::duration<double>(t1 - t0).count();
  std::vector<float> lat;
  for (auto& r : I.runners) {
    NodeStats n;
    n.id = r->cfg.id;
    n.type = r->type->name;
    n.in = r->in;
    n.out = r->out;
    n.join_dropped = r->join_dropped;
    for (auto& q : r->queues) n.dropped += q.dropped;
    n.dropped += r->source_dropped;
    n.p50_ms = percentile(r->times_ms, 0.5);
    n.p95_ms = percentile(r->times_ms, 0.95);
    double sum = 0;
    for (float t : r->times_ms) sum += t;
    n.mean_ms = r->times_ms.empty() ? 0 : sum / r->times_ms.size();
    n.cpu_ms = r->in > 0 ? r->cpu_ms / r->in : 0;
    if (r->type->source) {
      s.frames_in += r->in;
      s.source_dropped += r->source_dropped;
    } else {
      s.queue_dropped += n.dropped + n.join_dropped;
    }
    if (r->is_sink() && r->in >= s.frames_out) {
      s.frames_out = r->in;
      lat = r->latency_ms;
    }
    s.nodes.push_back(n);
  }
  // critical path: longest chain of synchronized links by mean CPU per frame
  std::map<const Runner*, double> longest;
  std::function<double(const Runner*)> chain = [&](const Runner* r) {
    auto it = longest.find(r);
    if (it != longest.end()) return it->second;
    double up = 0;
    for (auto& q : r->queues)
      for (auto& from : I.runners)
        if (q.link->sync && from->cfg.id == q.link->from_node) up = std::max(up, chain(from.get()));
    double cpu = r->in > 0 ? r->cpu_ms / r->in : 0;
    return longest[r] = up + cpu;
  };
  for (auto& r : I.runners)
    if (r->is_sink()) s.critical_path_cpu_ms = std::max(s.critical_path_cpu_ms, chain(r.get()));
  s.fps = s.seconds > 0 ? s.frames_out / s.seconds : 0;
  s.latency_p50_ms = percentile(lat, 0.5);
  s.latency_p95_ms = percentile(lat, 0.95);
  return s;
}

std::string RunSummary::text() const {
  std::ostringstream os;
  char buf[256];
  os << "node                 type                    frames    p50 ms    p95 ms    cpu ms   drops\n";
  double cpu = 0;
  for (auto& n : nodes) {
    std::snprintf(buf, sizeof buf, "%-20s %-20s %9lld %9.2f %9.2f %9.2f %7lld\n", n.id.c_str(), n.type.c_str(),
                  (long long)n.in, n.p50_ms, n.p95_ms, n.cpu_ms, (long long)(n.dropped + n.join_dropped));
    os << buf;
    cpu += n.cpu_ms * n.in;
  }
  std::snprintf(buf, sizeof buf,
                "(wall p50/p95 and mean CPU per frame of each node; all nodes: %.1f ms CPU per frame out; "
                "critical path: %.1f ms CPU)\n",
                frames_out > 0 ? cpu / frames_out : 0.0, critical_path_cpu_ms);
  os << buf;
  std::snprintf(buf, sizeof buf,
                "pipeline: %lld frames in, %lld out in %.2f s = %.1f FPS; latency p50 %.1f ms p95 %.1f ms; "
                "dropped %lld at sources, %lld in queues",
                (long long)frames_in, (long long)frames_out, seconds, fps, latency_p50_ms, latency_p95_ms,
                (long long)source_dropped, (long long)queue_dropped);
  os << buf;
  return os.str();
}

}  // namespace ef::pipe
