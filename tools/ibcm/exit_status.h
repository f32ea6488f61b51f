// What an ibcm command's exit status means: one text, shown by --help and in the man pages.
// Every command returns one of these (a command line CLI11 cannot parse is a usage error, 2).
#pragma once

namespace ibcm::cli {

inline constexpr const char* kExitStatus =
    "Exit status: 0 the command did what it was asked; 1 it ran and failed (a check, a "
    "connection, a peer that cannot be reached, a --strict target); 2 it could not run (a usage "
    "error, a bad argument, a transport, device or file that cannot be opened).";

}  // namespace ibcm::cli
