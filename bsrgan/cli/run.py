"""``bsrgan run EXPERIMENT.yaml``: execute an experiment's notebooks with papermill."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run an experiment's numbered notebooks headless (papermill)",
        description=(
            "Execute the notebooks listed in an experiment YAML in order into "
            "results/<experiment>/<run-id>/, passing outputs of one notebook to the next, and "
            "write run.json (git SHA, package versions, device, seeds, parameters, timings). "
            "Stops at the first failing notebook, keeps it partially executed and exits 1."
        ),
    )
    parser.add_argument("experiment", help="experiment file, e.g. experiments/quickstart.yaml")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a parameter in every notebook that declares KEY, or in one notebook with "
             "ID.KEY=VALUE (e.g. 02.NUM_ITERS=50); VALUE is read as YAML; repeatable",
    )
    parser.add_argument("--only", metavar="IDS",
                        help="comma-separated notebook ids to run, e.g. 02,03 (default: all)")
    parser.add_argument(
        "--out", metavar="DIR",
        help="run folder (default: results/<experiment>/<run-id>); reusing a folder lets --only "
             "pick up the outputs earlier notebooks recorded there",
    )
    parser.add_argument("--dry-run", action="store_true",
                        help="check the experiment and print what each notebook would get; run nothing")
    parser.add_argument("--log-output", action="store_true",
                        help="stream the notebooks' cell outputs to the terminal")
    parser.add_argument("--kernel", metavar="NAME",
                        help="Jupyter kernel name (default: the notebooks' kernelspec, python3)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bsrgan.runner import (
        ExperimentError,
        load_experiment,
        parse_override,
        plan_run,
        run_experiment,
    )

    if args.log_output:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    restore = _interrupt_on_sigterm()
    try:
        experiment = load_experiment(args.experiment)
        overrides = [parse_override(text) for text in args.overrides]
        if args.dry_run:
            plan = plan_run(experiment, overrides=overrides, only=args.only, run_dir=args.out)
            for notebook_id, resolved in plan.items():
                print(f"[{notebook_id}] {experiment.spec(notebook_id).notebook}")
                for name, value in resolved.values.items():
                    print(f"    {name} = {value!r}  ({resolved.sources[name]})")
            return 0
        result = run_experiment(
            experiment, overrides=overrides, only=args.only, out=args.out,
            log_output=args.log_output, kernel_name=args.kernel,
            command=["bsrgan", "run", *sys.argv[2:]] if sys.argv[1:2] == ["run"] else None,
        )
    except ExperimentError as exc:
        print(f"bsrgan run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bsrgan run: interrupted; run.json records where it stopped", file=sys.stderr)
        return 130
    finally:
        restore()
    return result.exit_code


def _interrupt_on_sigterm():
    """Turn SIGTERM into KeyboardInterrupt so a killed run shuts its kernel down and records
    ``interrupted`` in run.json; returns a function that restores the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)
