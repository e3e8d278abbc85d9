"""`value-view bench`: how fast the marts are, and why, measured side by side in one run.

Each scale gets a database of its own (``<prefix>_s<scale>``) with deterministic demo data and a
cold ``dbt build`` (``warehouse``). At the chosen scale the command then measures:

* queries     every benchmark analysis (analyses/benchmarks/) on its mart, interleaved with its raw
              twin (analyses/benchmarks/raw/), which asks the same question of the source tables;
              both must return the same rows, else the run fails naming the benchmark
              (``answers``, ``queries``);
* refresh     plain and concurrent REFRESH of every materialized view, beside the spec's estimate
              (``refresh``);
* readers     K readers (pgbench) run the dashboard mix while the largest materialized view is
              refreshed over and over: without refresh (control), with plain REFRESH, CONCURRENTLY
              (``readers``);
* load        many readers while a whole refresh tier runs through dbt; reader errors must be 0;
* throughput  the dashboard mix at several client counts (``throughput``, on ``pgbench``);
* scaling     build, refresh and query p95 at every scale of ``--scales``, and their ratios
              (``scaling``).

Marts, budgets, tiers and analyses come from the dbt manifest (``orchestration.lib.manifest``),
and queries are timed with the latency check's own ``measure_query``
(``orchestration.lib.measure``). Results go to the terminal (Markdown, ``report``) and to
``bench.json``, ``bench.md`` and ``bench.png`` (``chart``) under ``--out`` (``runner``).
"""

from orchestration.tools.bench.options import BenchOptions, Progress, add_arguments
from orchestration.tools.bench.runner import BenchRun, run, run_command

__all__ = ["BenchOptions", "BenchRun", "Progress", "add_arguments", "run", "run_command"]
