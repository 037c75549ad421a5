#pragma once
// Runs the dropsim binary as a child process, with its output captured and a time bound.

#include <chrono>
#include <string>
#include <vector>

namespace dropsim::test {

/// What a finished child printed and returned.
struct ProcessResult {
  int exit_code = -1;  ///< -1: killed after the timeout
  std::string out;     ///< stdout
  std::string err;     ///< stderr
};

/// Runs `args` (args[0] is the program) to completion, killing it after `timeout`.
ProcessResult run_process(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

/// A child left running: read its stderr while it runs, signal it, wait for it.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& args);
  ~ChildProcess();
  /// Reads stderr until it contains `needle` or `timeout` passes; true when found.
  bool wait_err(const std::string& needle, std::chrono::milliseconds timeout);
  /// Everything read from stderr so far.
  const std::string& err() const { return err_; }
  /// Sends `signo`.
  void signal(int signo);
  /// The child's process id.
  int pid() const { return pid_; }
  /// Waits up to `timeout` for the exit, reading stderr meanwhile unless `read_err` is
  /// false (a pipe left unread); returns the exit code, or -1 (then kills it).
  int wait(std::chrono::milliseconds timeout, bool read_err = true);

 private:
  void drain(int timeout_ms);
  int pid_ = -1;
  int err_fd_ = -1;
  std::string err_;
  bool exited_ = false;
};

}  // namespace dropsim::test
