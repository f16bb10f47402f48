"""Entry point: parse, dispatch, and turn errors into messages and exit codes.

Exit codes: 0 ok, 1 user error (a TpatError: message, no traceback), 2 usage, 3 validation failed, 70 internal
error (a bug in tpat, in this process or in a task: the traceback with -v). `-v` shows tracebacks for user errors
too.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
import traceback

from ..errors import InternalError, TpatError

COMMANDS = ("onnx2plugin", "apply", "plan", "validate", "run", "inspect", "check_trt", "conformance")
EXIT_BUG = 70


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(prog="tpat", description="ONNX nodes -> TVM-generated TensorRT plugins.")
    parser.add_argument("--version", action="version", version=f"tpat {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("tpat.cli."):
                continue  # command not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    start = time.perf_counter()
    try:
        code = args.run(args) or 0
    except TpatError as exc:
        if args.verbose:
            logging.exception("tpat error")
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tpat inspect m.onnx | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except InternalError as exc:
        report_bug(str(exc), exc.traceback_text, argv, args.verbose)
        return EXIT_BUG
    except Exception as exc:
        report_bug(f"{type(exc).__name__}: {exc}", traceback.format_exc(), argv, args.verbose)
        return EXIT_BUG
    if getattr(args, "timing", True):
        print(f"{'PASSED' if code == 0 else 'FAILED'} | {time.perf_counter() - start:.2f}s | tpat {' '.join(argv)}",
              file=sys.stderr)
    return code


def report_bug(message: str, traceback_text: str, argv: list[str], verbose: bool) -> None:
    """A bug in tpat: one line saying so (the traceback with -v), and the command to report."""
    print(f"internal error in tpat (this is a bug; please report it with the command below): {message}",
          file=sys.stderr)
    if verbose and traceback_text:
        print(traceback_text.rstrip(), file=sys.stderr)
    elif traceback_text:
        print("  (run again with -v for the traceback)", file=sys.stderr)
    print(f"command: tpat {' '.join(argv)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
