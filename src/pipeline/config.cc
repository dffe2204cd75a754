// YAML pipeline files -> PipelineConfig, keeping line numbers for messages.
//
//   pipeline: meeting
//   settings: {input: clip.mp4}          # ${input} anywhere below; --set input=...
//   options: {max_in_flight: 2, stats_every: 1, progress: true}
//   nodes:
//     src: {type: video_source, params: {path: "${input}"}}
//     det:
//       type: inference
//       inputs: {image: src.image}       # or {image: {from: src.image, policy: keep_newest, capacity: 1, sync: false}}
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "edgeflow/pipeline.h"

namespace ef::pipe {

namespace {

struct Ctx {
  std::string file;
  std::map<std::string, std::string> settings;
  std::string loc(const YAML::Node& n) const { return file + ":" + std::to_string(n.Mark().line + 1); }
  std::string loc(const YAML::Mark& m) const { return file + ":" + std::to_string(m.line + 1); }
  std::string subst(const std::string& s, const YAML::Node& at) const {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      size_t b = s.find("${", i);
      if (b == std::string::npos) {
        out += s.substr(i);
        break;
      }
      size_t e = s.find('}', b);
      if (e == std::string::npos) throw Error(loc(at) + ": unterminated ${ in '" + s + "'");
      std::string key = s.substr(b + 2, e - b - 2);
      auto it = settings.find(key);
      if (it == settings.end()) throw Error(loc(at) + ": unknown setting '${" + key + "}' (define it under settings:)");
      out += s.substr(i, b - i) + it->second;
      i = e + 1;
    }
    return out;
  }
  std::string scalar(const YAML::Node& n, const std::string& what) const {
    if (!n.IsScalar()) throw Error(loc(n) + ": " + what + ": expected a single value");
    return subst(n.Scalar(), n);
  }
};

void expect_map(const Ctx& c, const YAML::Node& n, const std::string& what) {
  if (!n.IsMap()) throw Error(c.loc(n) + ": " + what + " must be a mapping (key: value)");
}

}  // namespace

PipelineConfig parse_pipeline(const std::string& text, const std::string& file,
                              const std::map<std::string, std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                ": YAML syntax error: " + e.msg);
  }
  Ctx c{file, {}};
  PipelineConfig cfg;
  cfg.file = file;
  if (!root.IsMap()) throw Error(file + ": a pipeline file is a mapping with 'nodes:' (and optional settings:, options:)");
  static const std::set<std::string> top = {"pipeline", "name", "description", "settings", "options", "nodes"};
  for (auto it : root) {
    std::string k = it.first.Scalar();
    if (!top.count(k))
      throw Error(c.loc(it.first) + ": unknown key '" + k + "' (expected pipeline, description, settings, options, nodes)");
  }
  if (root["pipeline"]) cfg.name = root["pipeline"].Scalar();
  else if (root["name"]) cfg.name = root["name"].Scalar();

  // settings (+ overrides that name a setting)
  std::map<std::string, std::map<std::string, std::string>> param_overrides;
  if (auto s = root["settings"]) {
    expect_map(c, s, "settings");
    for (auto it : s) c.settings[it.first.Scalar()] = it.second.IsScalar() ? it.second.Scalar() : "";
  }
  for (auto& [k, v] : overrides) {
    auto dot = k.find('.');
    if (dot != std::string::npos) {
      param_overrides[k.substr(0, dot)][k.substr(dot + 1)] = v;
    } else {
      if (!c.settings.count(k)) {
        std::string have;
        for (auto& [sk, sv] : c.settings) have += (have.empty() ? "" : ", ") + sk;
        throw Error("--set " + k + ": " + file + " has no setting '" + k + "' (settings: " +
                    (have.empty() ? "none" : have) + "; use NODE.PARAM=VALUE for a node parameter)");
      }
      c.settings[k] = v;
    }
  }
  cfg.settings = c.settings;

  // options (+ overrides `--set options.KEY=V`)
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> opts;  // key, value, key loc, value loc
  if (auto o = root["options"]) {
    expect_map(c, o, "options");
    for (auto it : o) {
      std::string k = it.first.Scalar();
      opts.emplace_back(k, c.scalar(it.second, "options." + k), c.loc(it.first), c.loc(it.second));
    }
  }
  for (auto& [k, v] : param_overrides["options"]) opts.emplace_back(k, v, "--set options." + k, "--set options." + k);
  param_overrides.erase("options");
  for (auto& [k, v, kloc, vloc] : opts) {
    try {
      if (k == "max_in_flight") cfg.max_in_flight = std::stoi(v);
      else if (k == "stats_every") cfg.stats_every = std::stod(v);
      else if (k == "opencv_threads") cfg.opencv_threads = std::stoi(v);
      else if (k == "progress") cfg.progress = (v == "true" || v == "yes" || v == "on" || v == "1");
      else throw Error(kloc + ": unknown option '" + k + "' (options: max_in_flight, stats_every, progress, opencv_threads)");
    } catch (const std::logic_error&) {
      throw Error(vloc + ": options." + k + ": bad value '" + v + "'");
    }
    if (k == "max_in_flight" && cfg.max_in_flight < 1) throw Error(vloc + ": options.max_in_flight must be >= 1");
  }

  auto nodes = root["nodes"];
  if (!nodes) throw Error(file + ": no 'nodes:' section");
  expect_map(c, nodes, "nodes");
  std::set<std::string> ids;
  for (auto it : nodes) {
    NodeConfig nc;
    nc.id = it.first.Scalar();
    nc.loc = c.loc(it.first);
    const YAML::Node& body = it.second;
    std::string what = nc.loc + ": node '" + nc.id + "'";
    if (!ids.insert(nc.id).second) throw Error(what + ": duplicate node id");
    if (nc.id.find('.') != std::string::npos) throw Error(what + ": node ids may not contain '.'");
    if (!body.IsMap()) throw Error(what + ": expected a mapping with type:, params:, inputs:");
    for (auto kv : body) {
      std::string k = kv.first.Scalar();
      if (k != "type" && k != "params" && k != "inputs")
        throw Error(c.loc(kv.first) + ": node '" + nc.id + "': unknown key '" + k + "' (expected type, params, inputs)");
    }
    if (!body["type"]) throw Error(what + ": missing 'type:'");
    nc.type = c.scalar(body["type"], "type");
    std::map<std::string, std::string> values, locs;
    std::map<std::string, std::vector<std::string>> lists;
    if (auto p = body["params"]) {
      if (!p.IsNull()) {
        expect_map(c, p, "node '" + nc.id + "' params");
        for (auto kv : p) {
          std::string k = kv.first.Scalar();
          locs[k] = c.loc(kv.first);
          if (kv.second.IsMap()) {  // a parameter block, e.g. delta: {threshold: 1}: keys "delta.threshold"
            for (auto e : kv.second) {
              const std::string sub = k + "." + e.first.Scalar();
              locs[sub] = c.loc(e.first);
              values[sub] = c.scalar(e.second, "param '" + sub + "'");
            }
          } else if (kv.second.IsSequence()) {
            std::vector<std::string> l;
            for (auto e : kv.second) l.push_back(c.scalar(e, "param '" + k + "'"));
            lists[k] = l;
          } else if (kv.second.IsNull()) {
            values[k] = "";
          } else {
            values[k] = c.scalar(kv.second, "param '" + k + "'");
          }
        }
      }
    }
    if (param_overrides.count(nc.id)) {
      for (auto& [k, v] : param_overrides[nc.id]) {
        values[k] = v;
        lists.erase(k);
        locs[k] = "--set " + nc.id + "." + k;
      }
      param_overrides.erase(nc.id);
    }
    locs[""] = nc.loc;
    nc.params = Params("node '" + nc.id + "' (" + nc.type + ")", values, lists, locs);
    if (auto in = body["inputs"]) {
      expect_map(c, in, "node '" + nc.id + "' inputs");
      for (auto kv : in) {
        LinkConfig l;
        l.to_node = nc.id;
        l.to_port = kv.first.Scalar();
        l.loc = c.loc(kv.first);
        std::string from;
        if (kv.second.IsMap()) {
          for (auto e : kv.second) {
            std::string k = e.first.Scalar();
            std::string v = c.scalar(e.second, k);
            if (k == "from") from = v;
            else if (k == "policy") {
              if (v == "block") l.policy = QueuePolicy::block;
              else if (v == "keep_newest") l.policy = QueuePolicy::keep_newest;
              else throw Error(c.loc(e.second) + ": input '" + l.to_port + "': policy '" + v + "' (expected block or keep_newest)");
            } else if (k == "capacity") {
              try {
                l.capacity = std::stoi(v);
              } catch (...) {
                l.capacity = 0;
              }
              if (l.capacity < 1) throw Error(c.loc(e.second) + ": input '" + l.to_port + "': capacity must be a positive integer");
            } else if (k == "sync") {
              l.sync = !(v == "false" || v == "no" || v == "off" || v == "0");
            } else {
              throw Error(c.loc(e.first) + ": input '" + l.to_port + "': unknown key '" + k + "' (expected from, policy, capacity, sync)");
            }
          }
          if (from.empty()) throw Error(l.loc + ": input '" + l.to_port + "': missing 'from: NODE.PORT'");
        } else {
          from = c.scalar(kv.second, "input '" + l.to_port + "'");
        }
        auto dot = from.find('.');
        if (dot == std::string::npos || dot == 0 || dot + 1 == from.size())
          throw Error(l.loc + ": node '" + nc.id + "' input '" + l.to_port + "': expected NODE.PORT, got '" + from + "'");
        l.from_node = from.substr(0, dot);
        l.from_port = from.substr(dot + 1);
        cfg.links.push_back(l);
      }
    }
    cfg.nodes.push_back(std::move(nc));
  }
  if (!param_overrides.empty())
    throw Error("--set " + param_overrides.begin()->first + "." + param_overrides.begin()->second.begin()->first +
                ": " + file + " has no node '" + param_overrides.begin()->first + "'");
  return cfg;
}

PipelineConfig load_pipeline(const std::string& path, const std::map<std::string, std::string>& overrides) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open pipeline file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_pipeline(ss.str(), path, overrides);
}

}  // namespace ef::pipe
