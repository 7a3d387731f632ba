"""`balansebot graph -o flow.svg`: draw the dialogue scripts as a flow chart for staff."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.commands.common import engine_or_exit
from bot.staff.flow_graph import FORMATS, Format, GraphvizError, GraphvizMissing, render_flow
from bot.staff_words import say, say_n

# Exit codes: 1 = the scripts have errors (as every command), 2 = the chart cannot be made or written here.
CANNOT_DRAW = 2
STDOUT = "-"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "graph",
        help=say("draw the dialogue flow as SVG or PNG (needs Graphviz's `dot`)"),
    )  # its description and exit codes: bot/cli.py, as every command's
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help=say("the file to write (.svg or .png), or - for standard output"),
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help=say("svg or png (default: from the file name's ending, else svg)"),
    )
    parser.add_argument(
        "--lang",
        default="nb",
        help=say("language of the node titles (default nb)"),
    )
    parser.add_argument("--dialogues", type=Path, help=say("the dialogues folder (default: ./dialogues)"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Draw the chart and write it; errors are one line each, never a traceback."""
    fmt = args.format or _format_of(args.output)
    if fmt is None:
        return _fail(
            say(
                "cannot tell the format of {output!r}; end it in .svg or .png, or use --format",
                output=args.output,
            )
        )
    scripts = engine_or_exit(args.dialogues).scripts
    try:
        drawn = render_flow(scripts, args.lang, fmt)
    except GraphvizMissing:
        return _fail(
            say(
                "Graphviz is not installed (no `dot` program found); "
                "install it with `apt-get install graphviz`"
            )
        )
    except (GraphvizError, ValueError) as exc:
        return _fail(str(exc))
    if args.output == STDOUT:
        sys.stdout.buffer.write(drawn)
        sys.stdout.flush()
        return 0
    output = Path(args.output)
    try:
        output.write_bytes(drawn)
    except OSError as exc:
        return _fail(say("cannot write {output}: {reason}", output=output, reason=exc.strerror or exc))
    print(
        say_n(
            "wrote {output} ({format}, {lang}, {count} byte)",
            "wrote {output} ({format}, {lang}, {count} bytes)",
            len(drawn),
            output=output,
            format=fmt,
            lang=args.lang,
        )
    )
    return 0


def _format_of(output: str) -> Format | None:
    """The format a file name asks for: .png → png, .svg or no ending (or stdout) → svg."""
    suffix = Path(output).suffix.lower() if output != STDOUT else ""
    if suffix == ".png":
        return "png"
    if suffix in ("", ".svg"):
        return "svg"
    return None


def _fail(message: str) -> int:
    """Print one line for staff and return the exit code for 'cannot draw it here'."""
    print(f"balansebot graph: {message}", file=sys.stderr)
    return CANNOT_DRAW
