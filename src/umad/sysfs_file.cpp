#include "umad/sysfs_file.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>

namespace ibcm::umad {

std::optional<std::string> read_sysfs_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

std::vector<std::string> list_dir(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<unsigned> parse_index(const std::string& name) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
  if (ec != std::errc{} || end != name.data() + name.size() || name.empty()) return std::nullopt;
  return v;
}

}  // namespace ibcm::umad
