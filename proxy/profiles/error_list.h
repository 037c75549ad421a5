#pragma once
// The independent errors of one pass over a file. A reader records an error and goes on
// where the rest of the document can still be checked (an unknown key is skipped, a bad
// value falls back to its default), so that a user fixes every mistake after one run
// rather than one mistake a run; the pass then throws one ProfileError carrying them all.

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "profile_yaml.h"

namespace dropsim {

/// Thrown to abandon a subtree whose error was already recorded (e.g. a required key that
/// was reported as a typo of another key): ErrorList::attempt swallows it without a record.
struct AlreadyReported {};

/// Recorded errors of one file, and the keys already reported as typos.
class ErrorList {
 public:
  /// Records `e` (each of its errors, when it carries several).
  void add(const ProfileError& e);

  /// Runs `f`; a ProfileError it throws is recorded and false returned, so that the caller
  /// goes on with a default. AlreadyReported is swallowed unrecorded.
  template <class F>
  bool attempt(F&& f) {
    try {
      f();
      return true;
    } catch (const ProfileError& e) {
      add(e);
    } catch (const AlreadyReported&) {
    }
    return false;
  }

  bool empty() const { return errors_.empty(); }

  /// Throws one ProfileError with every error recorded, in file order of `file` (errors of
  /// other files, e.g. a profile a config names, stay after the error before them); does
  /// nothing when none was recorded.
  void throw_if_any(const std::string& file) const;

  /// Notes that an unknown key at `line`/`column` of the mapping was reported as a typo of
  /// `key`, so that "missing 'key'" need not be said too.
  void note_typo(int line, int column, const std::string& key) { typos_.emplace(line, column, key); }

  /// True when `key` of the mapping at `line`/`column` was already reported as a typo.
  bool typo_reported(int line, int column, const std::string& key) const {
    return typos_.contains({line, column, key});
  }

 private:
  std::vector<ProfileError> errors_;
  std::set<std::tuple<int, int, std::string>> typos_;
};

}  // namespace dropsim
