// Fabric: nodes, their lifecycle, and the knobs a script turns (links, rules, partitions).
#include "ibcm/sim/fabric.h"

#include <stdexcept>

#include "ibcm/wire/roce.h"

namespace ibcm::sim {

namespace {

std::string node_name(NodeId n, size_t count) {
  if (count <= 26) return std::string(1, static_cast<char>('A' + n));
  std::string name = "N";  // appended, not "N" + ...: GCC 12 -O3 misreads that (-Wrestrict)
  return name += std::to_string(n);
}

// Node n at 10.x.y.z (x.y.z = n + 1: 10.0.0.0 is not a host address), IPv4-mapped.
Address node_address(NodeId n) {
  const uint32_t k = n + 1;
  const uint8_t ip[4] = {10, static_cast<uint8_t>(k >> 16), static_cast<uint8_t>(k >> 8),
                         static_cast<uint8_t>(k)};
  Address a;
  a.gid = wire::roce::ipv4_mapped_gid(ip);
  return a;
}

}  // namespace

std::string_view to_string(Stop s) {
  switch (s) {
    case Stop::Idle:
      return "idle";
    case Stop::TimeLimit:
      return "time_limit";
    case Stop::StepLimit:
      return "step_limit";
  }
  return "?";
}

Fabric::Fabric(const FabricConfig& config)
    : config_(config), rng_(mix64(config.seed)), default_link_(config.link) {
  if (config.nodes == 0 || config.nodes >= (1u << 24))
    throw std::invalid_argument("sim::Fabric: node count out of range");
  nodes_.resize(config.nodes);
  for (NodeId n = 0; n < nodes_.size(); ++n) {
    Node& x = nodes_[n];
    x.name = node_name(n, nodes_.size());
    x.address = node_address(n);
    x.ca_guid = 0x0002c90300000000ull | (n + 1);
    by_gid_[x.address.gid] = n;
    trace_.names.push_back(x.name);
    trace_.addresses.push_back(x.address);
  }
  for (NodeId n = 0; n < nodes_.size(); ++n) boot(n);
}

Fabric::~Fabric() = default;

Fabric::Node& Fabric::node(NodeId n) {
  if (n >= nodes_.size()) throw std::out_of_range("sim::Fabric: no such node");
  return nodes_[n];
}
const Fabric::Node& Fabric::node(NodeId n) const {
  if (n >= nodes_.size()) throw std::out_of_range("sim::Fabric: no such node");
  return nodes_[n];
}

const std::string& Fabric::name(NodeId n) const {
  return node(n).name;
}
const Address& Fabric::address(NodeId n) const {
  return node(n).address;
}
uint64_t Fabric::ca_guid(NodeId n) const {
  return node(n).ca_guid;
}

std::optional<NodeId> Fabric::node_of(const wire::Gid& gid) const {
  auto it = by_gid_.find(gid);
  if (it == by_gid_.end()) return std::nullopt;
  return it->second;
}

Cm& Fabric::cm(NodeId n) {
  Cm* c = find_cm(n);
  if (!c) throw std::logic_error("sim::Fabric: node " + name(n) + " is down");
  return *c;
}

Cm* Fabric::find_cm(NodeId n) {
  Node& x = node(n);
  // Whoever holds the Cm may make consumer calls; their output must not wait for the next
  // unrelated step, so the node is drained before anything else happens.
  if (x.cm) x.dirty = true;
  return x.cm.get();
}

bool Fabric::is_up(NodeId n) const {
  return node(n).cm != nullptr;
}
uint32_t Fabric::boots(NodeId n) const {
  return node(n).boots;
}
void Fabric::set_consumer(NodeId n, Handler h) {
  node(n).handler = std::move(h);
}
void Fabric::set_boot_handler(NodeId n, NodeAction h) {
  node(n).on_boot = std::move(h);
}

Config Fabric::config_of(NodeId n) const {
  const Node& x = node(n);
  Config c = config_.node;
  c.ca_guid = x.ca_guid;
  c.local = x.address;
  // Independent of the PRNG stream, so crashing one node does not reshuffle everyone's luck.
  c.seed = mix64(config_.seed ^ mix64((uint64_t{n} << 32) | x.boots));
  return c;
}

void Fabric::boot(NodeId n) {
  Node& x = node(n);
  ++x.boots;
  x.cm = std::make_unique<Cm>(config_of(n));
  x.dirty = true;
}

void Fabric::crash(NodeId n) {
  Node& x = node(n);
  if (!x.cm) return;
  x.cm.reset();
  ++x.epoch;
  x.dirty = false;
  note(n, "crash");
}

void Fabric::reboot(NodeId n) {
  crash(n);
  boot(n);
  note(n, "reboot");
  Node& x = node(n);
  if (x.on_boot) {
    NodeAction h = x.on_boot;  // the handler may replace itself
    h(*this, n);
  }
}

void Fabric::annotate(NodeId n, std::string text) {
  note(n, std::move(text));
}

void Fabric::note(NodeId n, std::string text) {
  trace_.notes.push_back(Note{journal_seq_++, now_, n, std::move(text)});
}

void Fabric::set_default_link(const LinkParams& p) {
  default_link_ = p;
}
void Fabric::set_link(NodeId from, NodeId to, const LinkParams& p) {
  node(from);
  node(to);
  links_[{from, to}] = p;
}
const LinkParams& Fabric::link(NodeId from, NodeId to) const {
  auto it = links_.find({from, to});
  return it == links_.end() ? default_link_ : it->second;
}

RuleId Fabric::add_rule(FaultRule r) {
  rules_.push_back(Rule{std::move(r)});
  return static_cast<RuleId>(rules_.size() - 1);
}
uint32_t Fabric::rule_hits(RuleId id) const {
  return rules_.at(id).hits;
}
bool Fabric::rule_spent(RuleId id) const {
  const Rule& r = rules_.at(id);
  return r.hits >= r.rule.count;
}

PartitionId Fabric::cut(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  Cut c{std::vector<bool>(nodes_.size()), std::vector<bool>(nodes_.size())};
  std::string text = "partition {";
  for (NodeId n : a) {
    c.a.at(n) = true;
    text += name(n);
  }
  text += "} | {";
  for (NodeId n : b) {
    c.b.at(n) = true;
    text += name(n);
  }
  text += "}";
  const PartitionId id = next_cut_++;
  cuts_.emplace(id, std::move(c));
  note(kAnyNode, text + " #" + std::to_string(id));
  return id;
}

PartitionId Fabric::isolate(const std::vector<NodeId>& side) {
  std::vector<bool> in(nodes_.size());
  for (NodeId n : side) in.at(n) = true;
  std::vector<NodeId> rest;
  for (NodeId n = 0; n < nodes_.size(); ++n)
    if (!in[n]) rest.push_back(n);
  return cut(side, rest);
}

void Fabric::heal(PartitionId p) {
  if (cuts_.erase(p)) note(kAnyNode, "heal #" + std::to_string(p));
}

void Fabric::heal_all() {
  if (cuts_.empty()) return;
  cuts_.clear();
  note(kAnyNode, "heal all");
}

bool Fabric::reachable(NodeId from, NodeId to) const {
  for (const auto& [id, c] : cuts_)
    if ((c.a[from] && c.b[to]) || (c.b[from] && c.a[to])) return false;
  return true;
}

std::vector<EventRecord> Fabric::events_of(NodeId n) const {
  std::vector<EventRecord> out;
  for (const auto& e : trace_.events)
    if (e.node == n) out.push_back(e);
  return out;
}

std::vector<std::string> Fabric::event_names(NodeId n) const {
  std::vector<std::string> out;
  for (const auto& e : trace_.events)
    if (e.node == n) out.emplace_back(event_name(e.event));
  return out;
}

std::vector<MadRecord> Fabric::mads_of(wire::AttrId attr) const {
  std::vector<MadRecord> out;
  for (const auto& m : trace_.mads)
    if (m.attr() == static_cast<uint16_t>(attr)) out.push_back(m);
  return out;
}

}  // namespace ibcm::sim
