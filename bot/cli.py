"""The `balansebot` command line: one subcommand per job, wired here."""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from importlib.metadata import version
from typing import Any, NoReturn

from bot.commands import (
    chat,
    check,
    confusion,
    dialogue_test,
    graph,
    migrate,
    preview,
    route,
    serve,
    stats,
    translations,
)
from bot.settings import ContentSettings
from bot.staff_words import STAFF_LANGUAGES, marked, say, speaking, staff_language

# What each command's --help says beyond its one-line summary: what it does, and its exit codes.
HELP_WIDTH = 79
USAGE_ERROR = marked("2  the command line or a setting is wrong (one line says which)")
COMMANDS = {
    "chat": (
        marked("Talk to the bot in the terminal: no token, no network, nothing stored."),
        [marked("0  left with /quit or Ctrl-D"), marked("1  the scripts have errors")],
    ),
    "check": (
        marked("Check every dialogue script and print each problem as file:line with how to fix it."),
        [marked("0  the scripts can be served"), marked("1  errors (or warnings, with --strict)")],
    ),
    "confusion": (
        marked("Route every labelled test message and list the ones the bot answers wrongly."),
        [marked("0  done"), marked("1  the scripts have errors")],
    ),
    "test": (
        marked("Run the conversations written down in dialogues/tests/ against the scripts."),
        [
            marked("0  every conversation went as written"),
            marked("1  one went otherwise, none were found, or the scripts have errors"),
        ],
    ),
    "graph": (
        marked("Draw the whole dialogue flow as a picture (SVG or PNG); needs Graphviz's `dot`."),
        [
            marked("0  written"),
            marked("1  the scripts have errors"),
            marked("2  Graphviz is missing, or the picture cannot be drawn or written"),
        ],
    ),
    "migrate": (
        marked(
            "Bring the database in DATABASE_URL to the newest schema (upgrade), show its revision "
            "(current), or go back one step (downgrade). serve upgrades at start by itself."
        ),
        [marked("0  done"), marked("1  the database cannot be used"), USAGE_ERROR],
    ),
    "preview": (
        marked("Chat with the bot in a local web page beside the flow chart; a saved file is shown at once."),
        [
            marked("0  stopped with Ctrl-C"),
            marked("1  the scripts were never good, or the port is taken"),
            USAGE_ERROR,
        ],
    ),
    "route": (
        marked("Show which answer a typed message reaches and why, or one line per message of a list."),
        [marked("0  done"), marked("1  the scripts have errors"), USAGE_ERROR],
    ),
    "serve": (
        marked("Run the bot on Telegram with the settings from the environment (.env.example lists them)."),
        [
            marked("0  stopped by SIGTERM or Ctrl-C"),
            marked("1  the scripts were never good, or the database or the Bot API cannot be reached"),
            marked("2  the command line or a setting is wrong, or Telegram rejected the token"),
        ],
    ),
    "stats": (
        marked("Show the anonymous daily counts of the answers people were shown (counts under 5 hidden)."),
        [marked("0  done"), marked("1  the database cannot be read"), USAGE_ERROR],
    ),
    "translations": (
        marked(
            "List the nodes a translation lacks or has older than the Bokmål, with what changed in "
            "Bokmål since; --done records a node as translated, --scaffold writes the missing ones' "
            "skeletons."
        ),
        [
            marked("0  every translation is up to date (or --done, --scaffold did their work)"),
            marked("1  some are missing or stale, or the scripts have errors"),
            marked("2  no such language or node"),
        ],
    ),
}


# argparse's own words, said in the staff language by the parser and formatter below.
ARGPARSE_WORDS = (marked("usage: "), marked("options"), marked("positional arguments"))
# argparse's error messages, as its own gettext msgids: it fills them in English before error() is
# called, so error() reads the values back by these templates and says them in the staff language.
ARGPARSE_ERRORS = (
    marked("argument %(argument_name)s: %(message)s"),
    marked("unrecognized arguments: %s"),
    marked("the following arguments are required: %s"),
    marked("invalid choice: %(value)r (choose from %(choices)s)"),
    marked("invalid %(type)s value: %(value)r"),
    marked("expected one argument"),
    marked("expected at most one argument"),
    marked("expected at least one argument"),
    marked("one of the arguments %s is required"),
    marked("not allowed with argument %s"),
    marked("ambiguous option: %(option)s could match %(matches)s"),
    marked("ignored explicit argument %r"),
)
ARGPARSE_FIELD = re.compile(r"%\((\w+)\)[sr]|%[sr]")
NAMED_FIELD = re.compile(r"%\((\w+)\)s")


class StaffHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help, with its headings in the staff language."""

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        """The usage line, led by "usage: " as the staff language writes it."""
        super().add_usage(usage, actions, groups, say("usage: ") if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        """A section, its heading ("options", "positional arguments") in the staff language."""
        super().start_section(say(heading) if heading in ARGPARSE_WORDS else heading)


class StaffParser(argparse.ArgumentParser):
    """An argument parser whose help and errors speak the staff language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help"] = False
        kwargs.setdefault("formatter_class", StaffHelpFormatter)
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "--help", action="help", help=say("show this help and exit"))

    def error(self, message: str) -> NoReturn:
        """The usage, then one line saying what is wrong; exit 2."""
        self.print_usage(sys.stderr)
        self.exit(2, say("{prog}: error: {message}\n", prog=self.prog, message=argparse_said(message)))


def argparse_said(message: str) -> str:
    """One of argparse's error messages in the staff language (as it is when it is none of them)."""
    for template in ARGPARSE_ERRORS:
        parts = NAMED_FIELD.split(_named(template))  # text, field name, text, …
        pattern = "".join(
            re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts)
        )
        matched = re.fullmatch(pattern, message, re.DOTALL)
        if matched is None:
            continue
        values = matched.groupdict()
        if "message" in values:  # "argument --lang: invalid choice: …" wraps another of them
            values["message"] = argparse_said(values["message"])
        return _named(say(template)) % values
    return message


def _named(template: str) -> str:
    """Every field as a named %(…)s: the values are as argparse wrote them (a repr already)."""
    positions = itertools.count()
    return ARGPARSE_FIELD.sub(lambda field: f"%({field.group(1) or f'value{next(positions)}'})s", template)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = StaffParser(
        prog="balansebot",
        description=say(
            "Balansekunst's guidance chatbot: serve it on Telegram, and the tools staff use on its scripts."
        ),
        epilog=say("`balansebot COMMAND --help` describes a command and its exit codes."),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {version('balansebot')}",
        help=say("show the version and exit"),
    )
    parser.add_argument(
        "--lang",
        dest="staff_lang",
        choices=STAFF_LANGUAGES,
        help=say(
            "the language the tools speak "
            "(default: Bokmål; Nynorsk or English when LANG starts with nn or en)"
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar=say("COMMAND"), parser_class=StaffParser)
    for module in (
        chat,
        check,
        confusion,
        dialogue_test,
        graph,
        migrate,
        preview,
        route,
        serve,
        stats,
        translations,
    ):
        module.add_parser(sub)
    for name, command in sub.choices.items():
        description, codes = COMMANDS[name]
        command.description = textwrap.fill(say(description), HELP_WIDTH)
        command.epilog = say("exit codes:") + "\n" + "\n".join(f"  {say(code)}" for code in codes)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code; with none, print the help."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    with speaking(staff_language(chosen_language(arguments)), ContentSettings().locales_dir):
        parser = build_parser()
        args = parser.parse_args(arguments)
        if args.command is None:
            parser.print_help()
            return 0
        try:
            code: int = args.run(args)
        except BrokenPipeError:
            # The reader went away (`balansebot route … | head`): not an error worth a traceback.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        return code


def chosen_language(arguments: Sequence[str]) -> str | None:
    """`--lang` before the command, read ahead of parsing: the help and its errors speak it too."""
    for index, argument in enumerate(arguments):
        if argument.startswith("--lang="):
            return _known(argument.partition("=")[2])
        if argument == "--lang" and index + 1 < len(arguments):
            return _known(arguments[index + 1])
        if not argument.startswith("-"):
            return None  # the command: its own --lang (route's, chat's) is the readers' language
    return None


def _known(lang: str) -> str | None:
    return lang if lang in STAFF_LANGUAGES else None  # argparse then says which languages there are


if __name__ == "__main__":
    sys.exit(main())
