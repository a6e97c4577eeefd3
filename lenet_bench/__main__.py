"""Usage: python -m lenet_bench --experiment=NAME --workdir=DIR [--data_dir=DIR] [flags]

Trains the experiment's runs not yet in <workdir>/<experiment>/ and writes its
REPORT.md there (a rerun resumes). --help: the flags to know first; --helpfull: all.
"""

# The only module that reads flags, and a thin layer over lenet_bench.api: every flag
# is derived from a field table (config.SETTINGS; lenet_bench.options's RunOptions and
# CommandLine) and is declared by that table's module; the flags a user needs first
# are this module's key flags (absl's convention), shown grouped by --help. The flags
# become config overrides and one RunOptions, handed to api.run_configs (the
# preflight, then the path of run_study). Bad input ends with a one-line
# `error: ...` on stderr and exit status 2.

from lenet_bench.interrupts import RESUME_LINE, exit_at_once_on_ctrl_c

if __name__ == "__main__":  # Before the imports below: Ctrl-C during them is one line too.
    exit_at_once_on_ctrl_c()

import dataclasses
import logging
import os
import shlex
import sys
from pathlib import Path

from absl import app, flags

from lenet_bench import api
from lenet_bench.config import DEFAULTS, SETTINGS, field_names
from lenet_bench.errors import InputError, did_you_mean
from lenet_bench.options import COMMAND_LINE, RUN_OPTIONS, CommandLine, RunOptions
from lenet_bench.study.registry import list_experiments, resolve_configs

FLAGS = flags.FLAGS
DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, bool: flags.DEFINE_bool,
          str: flags.DEFINE_string, list: flags.DEFINE_multi_string}
# --help: these flags (this module's key flags), in groups; --helpfull: every flag.
KEY_FLAGS = {
    "What to run": ("experiment", "list_experiments", "grid", "epochs", "batch_size",
                    "train_size", "backend"),
    "Seeds (--seeds=auto: a race)": ("seeds", "min_seeds", "max_seeds", "margin"),
    "Where": ("workdir", "data_dir", "report_only"),
    "How it trains": ("engine", "trainer", "threads"),
}
EXPECTED_BY_FLAG_TYPE = {"int": "an integer", "float": "a number", "bool": "true or false"}


def define_flags(described: dict, defaults: dict, flag_values=FLAGS,
                 module_name: str | None = None) -> tuple[str, ...]:
    """One flag per entry of a field table ({name: Setting or Option}), typed and
    documented as its entry says, with its default from `defaults` (None: unset),
    declared by `module_name` (the table's module)."""
    for name, entry in described.items():
        if entry.choices:
            flags.DEFINE_enum(name, defaults.get(name), list(entry.choices), entry.help,
                              flag_values=flag_values, module_name=module_name)
        else:
            kind = str if getattr(entry, "words", ()) else entry.kind  # --seeds=auto
            DEFINE[kind](name, defaults.get(name), entry.help, flag_values=flag_values,
                         module_name=module_name)
    return tuple(described)


def table_defaults(table) -> dict:
    return {field.name: field.default_factory() if callable(field.default_factory)
            else field.default for field in dataclasses.fields(table)}


# A config field's flag is unset (None) unless given: "as the experiment says".
OVERRIDE_FLAGS = define_flags({name: SETTINGS[name] for name in field_names(flag=True)}, {},
                              module_name="lenet_bench.config")
OPTION_FLAGS = define_flags(RUN_OPTIONS, table_defaults(RunOptions),
                            module_name="lenet_bench.options")
define_flags(COMMAND_LINE, table_defaults(CommandLine), module_name="lenet_bench.options")


def declare_key_flags() -> None:
    """KEY_FLAGS become this module's key flags; an override flag's help default (it is
    unset, meaning the experiment's value) says what applies."""
    for name in (name for group in KEY_FLAGS.values() for name in group):
        flags.declare_key_flag(name)
        if name in OVERRIDE_FLAGS:
            fallback = "unset" if DEFAULTS[name] is None else repr(DEFAULTS[name])
            FLAGS[name].default_as_str = f"the experiment's, else {fallback}"


declare_key_flags()


def short_help() -> str:
    """--help: the usage line and the key flags, grouped, as absl writes a flag."""
    lines = [__doc__.splitlines()[0], ""]
    for title, names in KEY_FLAGS.items():
        lines.append(f"{title}:")
        for name in names:
            flag = FLAGS[name]
            lines.append(flags.text_wrap(f"--{name}: {flag.help}", indent="      ",
                                         firstline_indent="  "))
            if flag.default_as_str:
                lines.append(f"      (default: {flag.default_as_str})")
    lines.append("\nTry --helpfull to get a list of all flags.")
    return "\n".join(lines)


def run() -> int:
    """--version, --list_experiments, or the study the flags describe."""
    if FLAGS.version:
        from lenet_bench import __version__

        print(f"lenet-bench {__version__}")
        return 0
    if FLAGS.list_experiments:
        print(list_experiments())
        return 0
    options = RunOptions(**{name: FLAGS[name].value for name in OPTION_FLAGS})
    overrides = {name: FLAGS[name].value for name in OVERRIDE_FLAGS
                 if FLAGS[name].value is not None}
    configs = resolve_configs([name.strip() for name in FLAGS.experiment.split(",")
                               if name.strip()], overrides, FLAGS.grid)
    api.run_configs(configs, Path(FLAGS.workdir), options,
                    command=shlex.join(["python", "-m", "lenet_bench"] + sys.argv[1:]),
                    rank_runs_by=FLAGS.rank_runs_by, say=print)
    return 0


def main(argv: list[str]) -> None:
    from lenet_bench.study.engines import GroupFailedError

    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}: expected only --flags", file=sys.stderr)
        sys.exit(2)
    logging.getLogger("lenet_bench").setLevel(logging.INFO)
    try:
        sys.exit(run())
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except GroupFailedError as error:  # --engine=ray: the tracebacks are logged above.
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(RESUME_LINE, file=sys.stderr)
        sys.exit(130)


SHORT_HELP_FLAGS = ("--help", "-h", "-?", "--helpshort")


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parser, but --help prints the key flags and exits 0, --helpfull exits 0,
    and a bad flag is one line with exit status 2."""
    if any(arg in SHORT_HELP_FLAGS for arg in argv[1:]):
        print(short_help())
        sys.exit(0)
    try:
        return FLAGS(argv)
    except SystemExit:
        if "--helpfull" in argv[1:] or "--helpxml" in argv[1:]:
            sys.exit(0)  # absl exits 1 after printing help.
        raise
    except flags.Error as error:
        message = bad_value(argv[1:])
        if not message and isinstance(error, flags.UnrecognizedFlagError):
            message = (f"--{error.flagname} is unknown{did_you_mean(error.flagname, list(FLAGS))}"
                       ": expected one of the flags that --help lists")
        print(f"error: {message or error}", file=sys.stderr)
        sys.exit(2)


def bad_value(args: list[str]) -> str | None:
    """'--NAME=VALUE is invalid: expected ...' for the first --NAME=VALUE argument that
    the flag's own absl parser refuses; None when none is."""
    for arg in args:
        name, has_value, value = arg.lstrip("-").partition("=")
        if not (arg.startswith("--") and has_value and name in FLAGS):
            continue
        parser = FLAGS[name].parser
        try:
            parser.parse(value)
        except ValueError:
            expected = EXPECTED_BY_FLAG_TYPE.get(FLAGS[name].flag_type(), "a valid value")
            if isinstance(parser, flags.EnumParser):
                expected = "one of " + ", ".join(parser.enum_values)
            return f"--{name}={value} is invalid: expected {expected}"
    return None


def console_main() -> None:
    """The `lenet-bench` console script: the same as `python -m lenet_bench`."""
    exit_at_once_on_ctrl_c()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    console_main()
