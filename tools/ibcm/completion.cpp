// `ibcm completion`: the bash completion script, written from the same CLI11 definitions that
// parse the command line (commands, and each command's options). The build writes it and
// installs it where bash-completion finds it (share/bash-completion/completions/ibcm).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "ibcm/commands.h"

namespace ibcm::cli {

namespace {

// Every option name of app ("--json -h --help ..."), hidden ones left out.
std::string option_words(const CLI::App& app) {
  std::string words;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty() || !opt->nonpositional()) continue;
    std::string names = opt->get_name(false, true);  // "-h,--help"
    for (char& c : names)
      if (c == ',') c = ' ';
    words += (words.empty() ? "" : " ") + names;
  }
  return words;
}

std::string bash_script(const CLI::App& app) {
  std::string commands, cases;
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); })) {
    commands += (commands.empty() ? "" : " ") + sub->get_name();
    cases += "    " + sub->get_name() + ") words=\"" + option_words(*sub) + "\" ;;\n";
  }
  // Option names complete after a '-'; anything else falls back to file names (-o default).
  return "# bash completion for ibcm (written by `ibcm completion`)\n"
         "_ibcm() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} words\n"
         "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
         "    words=\"" +
         commands + " " + option_words(app) +
         "\"\n"
         "  else\n"
         "    case ${COMP_WORDS[1]} in\n" +
         cases +
         "    *) words= ;;\n"
         "    esac\n"
         "    [[ $cur == -* ]] || words=\n"
         "  fi\n"
         "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
         "}\n"
         "complete -o default -F _ibcm ibcm\n";
}

}  // namespace

void add_completion(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("completion", "Print the bash completion script");
  cmd->group("");  // not a command for users: the build runs it
  cmd->callback([&app, &run] {
    run = [&app] { return std::fputs(bash_script(app).c_str(), stdout) >= 0 ? 0 : 1; };
  });
}

}  // namespace ibcm::cli
