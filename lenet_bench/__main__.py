"""Command line: python -m lenet_bench --experiment=NAME --workdir=DIR [--data_dir=DIR].

The only module that reads flags, and a thin layer over lenet_bench.api: every flag
is derived from a field table (the config's, config.SETTINGS; the run options' and
the command line's, lenet_bench.options), parsed into config overrides and a
`RunOptions`, and handed to `api.run_configs`, the code path of `run_study`.
Bad input ends with a one-line `error: ...` on stderr and exit status 2.
"""

from lenet_bench.interrupts import RESUME_LINE, exit_at_once_on_ctrl_c

if __name__ == "__main__":  # Before the imports below: Ctrl-C during them is one line too.
    exit_at_once_on_ctrl_c()

import dataclasses
import logging
import os
import re
import shlex
import sys
from pathlib import Path

from absl import app, flags

from lenet_bench import api
from lenet_bench.api import apply_overrides  # noqa: F401  (the CLI's override rule)
from lenet_bench.config import SETTINGS, field_names
from lenet_bench.errors import InputError, did_you_mean
from lenet_bench.options import COMMAND_LINE, RUN_OPTIONS, CommandLine, RunOptions

FLAGS = flags.FLAGS
DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, bool: flags.DEFINE_bool,
          str: flags.DEFINE_string, list: flags.DEFINE_multi_string}


def define_flags(described: dict, defaults: dict, flag_values=FLAGS) -> tuple[str, ...]:
    """One flag per entry of a field table ({name: Setting or Option}), typed and
    documented as its entry says, with its default from `defaults` (None: unset)."""
    for name, entry in described.items():
        if entry.choices:
            flags.DEFINE_enum(name, defaults.get(name), list(entry.choices), entry.help,
                              flag_values=flag_values)
        else:
            kind = str if getattr(entry, "words", ()) else entry.kind  # --seeds=auto
            DEFINE[kind](name, defaults.get(name), entry.help, flag_values=flag_values)
    return tuple(described)


def table_defaults(table) -> dict:
    return {field.name: field.default_factory() if callable(field.default_factory)
            else field.default for field in dataclasses.fields(table)}


# A config field's flag is unset (None) unless given: "as the experiment says".
OVERRIDE_FLAGS = define_flags({name: SETTINGS[name] for name in field_names(flag=True)}, {})
OPTION_FLAGS = define_flags(RUN_OPTIONS, table_defaults(RunOptions))
define_flags(COMMAND_LINE, table_defaults(CommandLine))


def run() -> int:
    """--version, --list_experiments, or the study the flags describe."""
    if FLAGS.version:
        from lenet_bench import __version__

        print(f"lenet-bench {__version__}")
        return 0
    if FLAGS.list_experiments:
        print(api.list_experiments())
        return 0
    options = RunOptions(**{name: FLAGS[name].value for name in OPTION_FLAGS})
    overrides = {name: FLAGS[name].value for name in OVERRIDE_FLAGS
                 if FLAGS[name].value is not None}
    configs = api.resolve_configs([name.strip() for name in FLAGS.experiment.split(",")
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


HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")
EXPECTED_BY_FLAG_TYPE = {"int": "an integer", "float": "a number", "bool": "true or false"}


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parser, but --help exits 0 and a bad flag is one line with exit status 2."""
    try:
        return FLAGS(argv)
    except SystemExit:
        if any(arg in HELP_FLAGS for arg in argv[1:]):
            sys.exit(0)  # absl exits 1 after printing help.
        raise
    except flags.Error as error:
        message = str(error)
        if isinstance(error, flags.UnrecognizedFlagError):
            message = (f"--{error.flagname} is unknown{did_you_mean(error.flagname, list(FLAGS))}"
                       ": expected one of the flags that --help lists")
        bad_value = re.match(r"flag --(\w+)=(.*?): ", message)
        if bad_value and bad_value.group(1) in FLAGS:
            name, value = bad_value.groups()
            expected = EXPECTED_BY_FLAG_TYPE.get(FLAGS[name].flag_type())
            if isinstance(FLAGS[name].parser, flags.EnumParser):
                expected = "one of " + ", ".join(FLAGS[name].parser.enum_values)
            if expected:
                message = f"--{name}={value} is invalid: expected {expected}"
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def console_main() -> None:
    """The `lenet-bench` console script: the same as `python -m lenet_bench`."""
    exit_at_once_on_ctrl_c()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    console_main()
