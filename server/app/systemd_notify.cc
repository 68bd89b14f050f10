#include "server/app/systemd_notify.h"

#include <systemd/sd-daemon.h>

namespace cairn::server::app {

// sd_notify's result is not an error the member can act on (systemd gone, or no socket): ignored.
void notify_ready(const std::string& status) {
  std::string msg = "READY=1\nSTATUS=" + status;
  (void)sd_notify(0, msg.c_str());
}

void notify_stopping() {
  (void)sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

}  // namespace cairn::server::app
