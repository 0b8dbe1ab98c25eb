"""Per-step cost of ``ProcessRunner`` against bare SpiffWorkflow, on the same diagram.

    .venv/bin/python tests/workflows/bench_runner.py [--rounds 10,100,200] [--steps 20]

Ours: ``complete_task`` = load the spec-less state (spec from the cache) → complete the
user task → engine steps → effects → prune → dump the state.  Bare: what an app does with
SpiffWorkflow alone: restore the full serialization (spec included) → run the task →
``do_engine_steps`` → serialize it all again.  Both with the same sandboxed script engine
and at dict level (no JSON text).  Each figure is the median over ``--steps`` steps taken
after the instance has looped ``round`` times (bare SpiffWorkflow keeps every round,
and stalls near round 250 when its task iterator hits depth 1,000).
Prints one ``BENCH`` line per figure (DESIGN §12).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).parent))

from compile_helper import compile_for_test  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from workflows.runner import ProcessRunner  # noqa: E402
from workflows.serialization import SERIALIZER, SPEC_CACHE  # noqa: E402


def _answer(n: int) -> dict:
    return {"answer": n, "done": False}


def ours(process, runner, rounds: int, steps: int) -> tuple[float, int]:
    result = runner.start(process, {"done": False, "rounds": 0, "history": []})
    for n in range(rounds):
        result = runner.complete_task(process, result.state, result.open_tasks[0].task_id, _answer(n))
    times = []
    for n in range(steps):
        state, task_id = result.state, result.open_tasks[0].task_id
        began = time.perf_counter()
        result = runner.complete_task(process, state, task_id, _answer(n))
        times.append(time.perf_counter() - began)
    return statistics.median(times), len(json.dumps(result.state))


def bare(process, runner, rounds: int, steps: int) -> tuple[float, int]:
    engine = runner._engine(None)
    spec, subprocess_specs = SPEC_CACHE.get(process.digest, process.spec)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    workflow.task_tree.data.update({"done": False, "rounds": 0, "history": []})
    workflow.do_engine_steps()
    full = SERIALIZER.to_dict(workflow)  # SpiffWorkflow's serialization, spec included

    def bare_step(dct: dict, n: int) -> dict:
        wf = SERIALIZER.from_dict(dct)
        wf.script_engine = engine
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(_answer(n))
        task.run()
        wf.refresh_timers()
        wf.do_engine_steps()
        return SERIALIZER.to_dict(wf)

    for n in range(rounds):
        full = bare_step(full, n)
    times = []
    for n in range(steps):
        began = time.perf_counter()
        full = bare_step(full, n)
        times.append(time.perf_counter() - began)
    return statistics.median(times), len(json.dumps(full, default=str))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", default="10,100,200")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    process = compile_for_test("loop")["loop"]
    runner = ProcessRunner()
    for rounds in [int(r) for r in args.rounds.split(",")]:
        our_time, our_size = ours(process, runner, rounds, args.steps)
        bare_time, bare_size = bare(process, runner, rounds, args.steps)
        ratio = our_time / bare_time
        print(f"BENCH runner_step_loop_round{rounds} value={our_time * 1000:.2f} ms "
              f"baseline=bare_engine_step {bare_time * 1000:.2f} ms ratio={ratio:.2f} goal<=1 "
              f"{'ok' if ratio <= 1 else 'over'}  state={our_size} B bare_state={bare_size} B")


if __name__ == "__main__":
    main()
