// Service translation for the fast path: src/datapath/state.ts DatapathState.frontend and the
// backend choice of src/datapath/program.ts decide (bpf/lib/lb.h: a frontend's packets go to a
// backend chosen by flow hash, before conntrack and policy; a reply captured after reverse NAT
// comes from the frontend and is mapped back to that backend).
#ifndef HUBCAP_NATIVE_FASTPATH_SERVICES_H_
#define HUBCAP_NATIVE_FASTPATH_SERVICES_H_

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "packet.h"

namespace hubcap::fastpath {

struct Backend {
  uint32_t words[4];
  int32_t port;
};

struct Frontend {
  int32_t family;
  int32_t port;
  int32_t protocol;
  uint32_t words[4];
  std::vector<Backend> backends;
};

class Services {
 public:
  // From DatapathState.frontendTable(): false (and empty) when the table is malformed.
  bool Load(const double* t, size_t n) {
    frontends_.clear();
    index_.clear();
    size_t i = 0;
    while (i < n) {
      if (n - i < 8) return Fail();
      Frontend fe;
      fe.family = static_cast<int32_t>(t[i]);
      fe.port = static_cast<int32_t>(t[i + 1]);
      fe.protocol = static_cast<int32_t>(t[i + 2]);
      for (int k = 0; k < 4; k++) fe.words[k] = static_cast<uint32_t>(t[i + 3 + k]);
      double count = t[i + 7];
      i += 8;
      if (!(count >= 0) || count * 5 > static_cast<double>(n - i)) return Fail();
      for (size_t b = 0; b < static_cast<size_t>(count); b++, i += 5) {
        Backend be;
        for (int k = 0; k < 4; k++) be.words[k] = static_cast<uint32_t>(t[i + k]);
        be.port = static_cast<int32_t>(t[i + 4]);
        fe.backends.push_back(be);
      }
      index_[KeyOf(fe.family, fe.words, fe.port)].push_back(static_cast<uint32_t>(frontends_.size()));
      frontends_.push_back(std::move(fe));
    }
    return true;
  }

  // A frontend's number (its place in the document's order).
  int32_t IndexOf(const Frontend* fe) const { return static_cast<int32_t>(fe - frontends_.data()); }

  // DatapathState.frontend(family, words, port, protocol): the first frontend of that address,
  // port and protocol, in the document's order; null for none.
  const Frontend* Find(int32_t family, const uint32_t* words, int32_t port, int32_t protocol) const {
    if (index_.empty()) return nullptr;
    auto it = index_.find(KeyOf(family, words, port));
    if (it == index_.end()) return nullptr;
    for (uint32_t k : it->second) {
      const Frontend& fe = frontends_[k];
      if (fe.family == family && fe.port == port && fe.protocol == protocol && fe.words[0] == words[0] && fe.words[1] == words[1] &&
          fe.words[2] == words[2] && fe.words[3] == words[3]) {
        return &fe;
      }
    }
    return nullptr;
  }

  bool Empty() const { return frontends_.empty(); }

 private:
  static uint64_t KeyOf(int32_t family, const uint32_t* w, int32_t port) {
    uint64_t h = static_cast<uint64_t>(family) * 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(port);
    for (int k = 0; k < 4; k++) h = (h ^ w[k]) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 29);
  }
  bool Fail() {
    frontends_.clear();
    index_.clear();
    return false;
  }
  std::vector<Frontend> frontends_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> index_;
};

// program.ts flowHash32 (the role of get_hash_recalc in lb.h), as an unsigned number.
inline uint32_t FlowHash(const uint32_t* src, int32_t sport, const uint32_t* dst, int32_t dport, int32_t proto) {
  uint32_t h = 0x811c9dc5u ^ static_cast<uint32_t>(proto);
  for (int i = 0; i < 4; i++) {
    h = (h ^ src[i]) * 0x01000193u;
    h = (h ^ dst[i]) * 0x01000193u;
  }
  h = (h ^ ((static_cast<uint32_t>(sport) << 16) | static_cast<uint32_t>(dport))) * 0x01000193u;
  return h ^ (h >> 15);
}

// decide's service step on `p` (a packet with ports): a frontend destination goes to its
// backend; a reply from a frontend comes from the backend the forward direction chose. False
// when the packet needs what only the TypeScript program does (a frontend without backends: a
// DROP_NO_SERVICE drop; a translated packet's first events).
// `translated` tells the caller the destination was a frontend (a new connection then emits a
// TRANSLATED event: not the fast path's).
// `service`, when the destination was a frontend, gets its number (Frontend.index: the
// frontends come in the document's order).
inline bool Translate(const Services& s, FastPacket* p, bool* translated, int32_t* service = nullptr) {
  *translated = false;
  const Frontend* fe = s.Find(p->ipVersion, p->dst, p->dport, p->ipProto);
  if (fe != nullptr) {
    if (fe->backends.empty()) return false;
    if (service != nullptr) *service = s.IndexOf(fe);
    const Backend& b = fe->backends[FlowHash(p->src, p->sport, p->dst, p->dport, p->ipProto) % fe->backends.size()];
    for (int k = 0; k < 4; k++) p->dst[k] = b.words[k];
    p->dport = b.port;
    *translated = true;
    return true;
  }
  fe = s.Find(p->ipVersion, p->src, p->sport, p->ipProto);
  if (fe != nullptr && !fe->backends.empty()) {
    const Backend& b = fe->backends[FlowHash(p->dst, p->dport, p->src, p->sport, p->ipProto) % fe->backends.size()];
    for (int k = 0; k < 4; k++) p->src[k] = b.words[k];
    p->sport = b.port;
  }
  return true;
}

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_SERVICES_H_
