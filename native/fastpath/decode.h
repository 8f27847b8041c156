// FastDecode: src/decode/decode.ts decodeBytes for the packets the native fast path takes
// (packet.h), field for field. OWNER: the decode port.
#ifndef HUBCAP_NATIVE_FASTPATH_DECODE_H_
#define HUBCAP_NATIVE_FASTPATH_DECODE_H_

#include <cstdint>

#include "packet.h"

namespace hubcap::fastpath {

// Decodes the frame `frame[0, caplen)`, `wireLength` bytes on the wire, of link type `linkType`
// (LINKTYPE_*). True when the packet is one the fast path takes (see packet.h) and `out` holds
// exactly the fields decodeBytes would produce; false for anything else (the TypeScript program
// decides it), `out` then unspecified.
bool FastDecode(const uint8_t* frame, uint32_t caplen, uint32_t wireLength, uint32_t linkType, FastPacket* out);

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_DECODE_H_
