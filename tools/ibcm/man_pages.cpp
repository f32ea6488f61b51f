// `ibcm man`: the manual pages, written from the same CLI11 definitions that parse the command
// line and print --help, so that the pages cannot drift from the options. The build writes them
// (`ibcm man --dir DIR`: ibcm.1 and ibcm-COMMAND.1 for each command) and installs them.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "exit_status.h"
#include "ibcm/commands.h"
#include "ibcm/version.h"

namespace ibcm::cli {

namespace {

// Text as roff shows it literally: backslashes and hyphens escaped, no line starting a request.
std::string roff(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
    if (c == '\n') out += "\\&";
  }
  return out.empty() || (out[0] != '.' && out[0] != '\'') ? out : "\\&" + out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool shown(const CLI::App* sub) {
  return !sub->get_group().empty();
}

void header(std::ostream& out, const std::string& page, const std::string& summary) {
  out << ".TH " << upper(page) << " 1 \"\" \"ibcm " IBCM_VERSION "\" \"User Commands\"\n"
      << ".SH NAME\n"
      << roff(page) << " \\- " << roff(summary) << "\n";
}

void options(std::ostream& out, const CLI::App& app) {
  out << ".SH OPTIONS\n";
  for (const CLI::Option* opt : app.get_options()) {
    std::string names = opt->get_name(true, true);
    if (names.empty()) continue;  // hidden
    out << ".TP\n.B " << roff(names);
    if (opt->get_items_expected_max() > 0 && !opt->get_type_name().empty())
      out << " \" \" \\fI" << roff(opt->get_type_name()) << "\\fR";
    out << "\n" << roff(opt->get_description()) << "\n";
  }
}

void trailer(std::ostream& out, const std::string& see_also,
             const std::string& exit_status = kExitStatus) {
  out << ".SH EXIT STATUS\n" << roff(exit_status) << "\n";
  out << ".SH SEE ALSO\n" << see_also << "\n";
}

std::string command_page(const CLI::App& cmd) {
  std::ostringstream out;
  std::string page = "ibcm-" + cmd.get_name();
  header(out, page, cmd.get_description());
  out << ".SH SYNOPSIS\n.B ibcm " << roff(cmd.get_name()) << "\n[\\fIOPTIONS\\fR]\n";
  out << ".SH DESCRIPTION\n" << roff(cmd.get_description()) << "\n";
  // The footer a command inherits is the exit status, which has its own section; a command whose
  // statuses differ (probe) says its own there.
  std::string footer = cmd.get_footer();
  std::string status = footer.rfind("Exit status:", 0) == 0 ? footer : kExitStatus;
  if (!footer.empty() && footer != status) out << ".PP\n" << roff(footer) << "\n";
  options(out, cmd);
  trailer(out, ".BR ibcm (1)", status);
  return out.str();
}

std::string main_page(const CLI::App& app) {
  std::ostringstream out;
  header(out, "ibcm", app.get_description());
  out << ".SH SYNOPSIS\n.B ibcm\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n"
      << ".SH DESCRIPTION\n"
      << roff(app.get_description())
      << ". Each command has its own page, ibcm\\-\\fICOMMAND\\fR(1), and --help.\n"
      << ".SH COMMANDS\n";
  std::string see_also;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return shown(s); })) {
    out << ".TP\n.B " << roff(sub->get_name()) << "\n" << roff(sub->get_description()) << "\n";
    see_also += (see_also.empty() ? "" : ",\n") + (".BR ibcm\\-" + roff(sub->get_name()) + " (1)");
  }
  options(out, app);
  trailer(out, see_also);
  return out.str();
}

}  // namespace

void add_man(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("man", "Write the manual pages (roff)");
  cmd->group("");  // not a command for users: the build runs it
  auto dir = std::make_shared<std::string>();
  auto page = std::make_shared<std::string>();
  cmd->add_option("--dir", *dir, "Write ibcm.1 and ibcm-COMMAND.1 for each command into DIR");
  cmd->add_option("command", *page, "The command whose page to print (none: ibcm(1))");
  cmd->callback([&app, &run, dir, page] {
    run = [&app, dir, page]() -> int {
      const CLI::App* root = &app;
      std::vector<std::pair<std::string, std::string>> pages;  // file name, text
      pages.emplace_back("ibcm.1", main_page(*root));
      for (const CLI::App* sub : root->get_subcommands([](const CLI::App* s) { return shown(s); }))
        pages.emplace_back("ibcm-" + sub->get_name() + ".1", command_page(*sub));
      if (dir->empty()) {
        std::string want = page->empty() ? "ibcm.1" : "ibcm-" + *page + ".1";
        for (const auto& [name, text] : pages)
          if (name == want) return std::fputs(text.c_str(), stdout) >= 0 ? 0 : 1;
        std::fprintf(stderr, "ibcm man: no command %s\n", page->c_str());
        return 2;
      }
      for (const auto& [name, text] : pages) {
        std::ofstream f(*dir + "/" + name);
        if (!(f << text)) {
          std::fprintf(stderr, "ibcm man: cannot write %s/%s\n", dir->c_str(), name.c_str());
          return 2;
        }
      }
      return 0;
    };
  });
}

}  // namespace ibcm::cli
