// Runs a parsed Invocation against the cluster: one function per etcdctl command.
#pragma once

#include "ctl/args.h"
#include "ctl/rpc.h"

namespace cairn::ctl {

// etcdctl's wording for an RPC failure ("etcdserver: ..." as is, "context deadline exceeded", otherwise
// grpc-go's "rpc error: code = X desc = Y").
std::string error_text(const net_status& s);

// Executes the command; returns the process exit code. Prints to stdout/stderr.
int execute(const Invocation& inv);

// Entry point for main(): parse, then execute.
int run(int argc, const char* const* argv);

}  // namespace cairn::ctl
