#include "runtime/kernels/xnn_util.h"

namespace ef {

bool xnn_available() {
  static const bool ok = xnn_initialize(nullptr) == xnn_status_success;
  return ok;
}

void xnn_check(xnn_status st, const char* call, const std::string& what) {
  if (st == xnn_status_success) return;
  const char* s = "unknown";
  switch (st) {
    case xnn_status_uninitialized: s = "uninitialized"; break;
    case xnn_status_invalid_parameter: s = "invalid parameter"; break;
    case xnn_status_invalid_state: s = "invalid state"; break;
    case xnn_status_unsupported_parameter: s = "unsupported parameter"; break;
    case xnn_status_unsupported_hardware: s = "unsupported hardware"; break;
    case xnn_status_out_of_memory: s = "out of memory"; break;
    default: break;
  }
  throw Error(what + ": XNNPACK " + call + " failed (" + s + ")");
}

}  // namespace ef
