// Reading sysfs attributes: one short line each.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ibcm::umad {

// The file's first line without trailing whitespace; nullopt when it cannot be read (sysfs
// refuses reads of unused GID attributes with EINVAL).
std::optional<std::string> read_sysfs_line(const std::filesystem::path& file);
// Names of the entries of a directory, sorted (empty when it does not exist).
std::vector<std::string> list_dir(const std::filesystem::path& dir);
// A decimal name ("12") as a number; nullopt for anything else.
std::optional<unsigned> parse_index(const std::string& name);

}  // namespace ibcm::umad
