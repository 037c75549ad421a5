// Compiled as a member of one module with an include of a module that module may not see
// (tests/CMakeLists.txt, "layering"): the test passes only when the compiler refuses it
// with "No such file or directory". Should the include directories ever be widened (one
// directory for all of proxy/, say), this compiles and the test fails.
#include UPWARD_HEADER
