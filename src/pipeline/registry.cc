// Node-type registry and typed parameter access.
#include <algorithm>
#include <charconv>
#include <mutex>

#include "edgeflow/pipeline.h"

namespace ef::pipe {

namespace {
std::map<std::string, NodeType>& registry() {
  static std::map<std::string, NodeType> r;
  return r;
}
}  // namespace

void register_node_type(NodeType t) { registry()[t.name] = std::move(t); }
const NodeType* find_node_type(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : &it->second;
}
std::vector<const NodeType*> node_types() {
  std::vector<const NodeType*> v;
  for (auto& [k, t] : registry()) v.push_back(&t);
  return v;
}

std::string Params::where(const std::string& k) const {
  auto node_loc = locs_.find("");
  auto it = locs_.find(k);
  std::string loc = it != locs_.end() && !k.empty() ? it->second : node_loc != locs_.end() ? node_loc->second : "";
  return (loc.empty() ? "" : loc + ": ") + where_ + (k.empty() ? "" : " param '" + k + "'");
}

std::vector<std::string> Params::keys() const {
  std::vector<std::string> k;
  for (auto& [n, v] : v_) k.push_back(n);
  for (auto& [n, v] : lists_) k.push_back(n);
  return k;
}

std::string Params::str(const std::string& k, const std::string& def) const {
  auto it = v_.find(k);
  if (it != v_.end()) return it->second;
  if (lists_.count(k)) throw Error(where(k) + ": expected a single value, got a list");
  return def;
}

int64_t Params::i(const std::string& k, int64_t def) const {
  if (!v_.count(k)) return def;
  const std::string& s = v_.at(k);
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) throw Error(where(k) + ": expected an integer, got '" + s + "'");
  return v;
}

double Params::f(const std::string& k, double def) const {
  if (!v_.count(k)) return def;
  const std::string& s = v_.at(k);
  try {
    size_t pos = 0;
    double v = std::stod(s, &pos);
    if (pos == s.size()) return v;
  } catch (...) {
  }
  throw Error(where(k) + ": expected a number, got '" + s + "'");
}

bool Params::b(const std::string& k, bool def) const {
  if (!v_.count(k)) return def;
  std::string s = v_.at(k);
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  throw Error(where(k) + ": expected true or false, got '" + v_.at(k) + "'");
}

std::vector<std::string> Params::strings(const std::string& k) const {
  if (lists_.count(k)) return lists_.at(k);
  if (v_.count(k)) return {v_.at(k)};
  return {};
}

std::vector<double> Params::floats(const std::string& k, std::vector<double> def) const {
  if (!has(k)) return def;
  std::vector<double> out;
  for (auto& s : strings(k)) {
    try {
      size_t pos = 0;
      out.push_back(std::stod(s, &pos));
      if (pos != s.size()) throw 0;
    } catch (...) {
      throw Error(where(k) + ": expected numbers, got '" + s + "'");
    }
  }
  return out;
}

cv::Size parse_size(const std::string& s, const std::string& what) {
  int w = 0, h = 0;
  char x = 0;
  if (std::sscanf(s.c_str(), "%d%c%d", &w, &x, &h) != 3 || (x != 'x' && x != 'X') || w <= 0 || h <= 0)
    throw Error(what + ": expected WIDTHxHEIGHT, got '" + s + "'");
  return {w, h};
}

const Packet& Inputs::operator[](const std::string& port) const {
  static const Packet empty;
  for (auto& [n, p] : items)
    if (n == port) return p;
  return empty;
}
bool Inputs::has(const std::string& port) const { return !(*this)[port].empty(); }

void Outputs::emit_any(const std::string& port, std::shared_ptr<const std::any> v) { sink_(port, std::move(v)); }

}  // namespace ef::pipe
