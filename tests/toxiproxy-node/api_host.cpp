// dropsim's control API with no proxy, as toxiproxy-server starts: the server the Node
// client test drives. Logs "control API listening on 127.0.0.1:PORT" on stderr and runs
// until SIGINT or SIGTERM. (`dropsim run --api ADDR` with no proxy does the same from the
// command line.)
//
// Usage: dropsim_api_host [HOST:PORT]   (default 127.0.0.1:0, a free port)

#include <csignal>
#include <cstdio>
#include <exception>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "api_server.h"
#include "event_log.h"
#include "runtime.h"

int main(int argc, char** argv) {
  const std::string listen = argc > 1 ? argv[1] : "127.0.0.1:0";
  try {
    asio::io_context io(1);
    dropsim::EventLog log;
    dropsim::Runtime runtime(io, log);
    dropsim::ApiServer api(io, runtime, listen, false);
    api.start();
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code&, int) {
      api.stop();
      runtime.stop_all();
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dropsim_api_host: %s\n", e.what());
    return 2;
  }
  return 0;
}
