"""Run the numbered notebooks of an experiment headless with papermill, with provenance.

``bsrgan run experiments/quickstart.yaml`` is :func:`load_experiment` + :func:`run_experiment`;
notebooks check their parameter values first (:func:`check_parameters`), hand values to later
notebooks with :func:`write_outputs` and record inputs and headline numbers with :func:`record`.
"""
from bsrgan.runner.checks import ParameterError, check_parameters
from bsrgan.runner.config import (
    Experiment,
    ExperimentError,
    NotebookSpec,
    Override,
    load_experiment,
    parse_only,
    parse_override,
)
from bsrgan.runner.execute import (
    RUN_FILE,
    NotebookFailure,
    NotebookRecord,
    RunResult,
    new_run_id,
    plan_run,
    run_experiment,
)
from bsrgan.runner.outputs import (
    OUTPUTS_FILE,
    notebook_output_dir,
    project_root,
    read_outputs,
    write_outputs,
)
from bsrgan.runner.parameters import (
    DeclaredParameter,
    ResolvedParameters,
    coerce,
    declared_parameters,
)
from bsrgan.runner.record import RECORD_FILE, read_record, record

__all__ = [
    "OUTPUTS_FILE",
    "RECORD_FILE",
    "RUN_FILE",
    "DeclaredParameter",
    "Experiment",
    "ExperimentError",
    "NotebookFailure",
    "NotebookRecord",
    "NotebookSpec",
    "Override",
    "ParameterError",
    "ResolvedParameters",
    "RunResult",
    "check_parameters",
    "coerce",
    "declared_parameters",
    "load_experiment",
    "new_run_id",
    "notebook_output_dir",
    "parse_only",
    "parse_override",
    "plan_run",
    "project_root",
    "read_outputs",
    "read_record",
    "record",
    "run_experiment",
    "write_outputs",
]
