#include "decode.h"

namespace hubcap::fastpath {

bool FastDecode(const uint8_t* frame, uint32_t caplen, uint32_t wireLength, uint32_t linkType, FastPacket* out) {
  return false;  // TODO(decode port)
}

}  // namespace hubcap::fastpath
