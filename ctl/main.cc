// cairnctl: etcdctl 3.4-compatible command-line client.
#include "ctl/commands.h"

int main(int argc, char** argv) {
  return cairn::ctl::run(argc, argv);
}
