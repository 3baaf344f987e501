# Training and evaluation: one job per sweep (nasrank.experiments.Sweep), the runs of the
# grids that share a table, encoding, predictor and loss, trained together over all their
# train sizes and seeds by `nasrank sweep ... --evaluate`. Its outputs are two
# directories: the run directories (data/models/<sweep>/n<size>/s<seed>/) and the runs'
# metrics (reports/metrics/<sweep>/n<size>/s<seed>.json).
SWEEP = "{table}/{encoding}/{predictor}/{loss}"


wildcard_constraints:
    table=r"[a-z0-9_]+(-[a-z0-9_]+)?",
    encoding=r"[a-z0-9_]+",
    predictor=r"[a-z0-9_]+",
    loss=r"[a-z0-9_]+",


rule sweep:
    input:
        lambda wc: job_inputs("sweep", sweep_key(wc)),
    output:
        models=directory(f"{MODELS}/{SWEEP}"),
        metrics=directory(f"{METRICS}/{SWEEP}"),
    params:
        cli=NASRANK,
        sizes=lambda wc: ",".join(map(str, sweep_job(wc).train_sizes)),
        seeds=lambda wc: ",".join(map(str, sweep_job(wc).seeds)),
        settings=lambda wc: job_settings("sweep", sweep_key(wc)),
    conda:
        "../../environment.yml"
    log:
        f"logs/sweep/{SWEEP}.log",
    # chunks of the sweep train side by side, one thread each (nasrank.sweep)
    threads: lambda wc: min(8, len(sweep_job(wc).runs))
    resources:
        mem_mb=lambda wc: sweep_job(wc).memory_mb(),
        runtime=lambda wc: sweep_job(wc).runtime_min(config),
        gpu=GPUS,
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} sweep {wildcards.table} "
        "{wildcards.encoding} {wildcards.predictor} --losses {wildcards.loss} "
        "--train-sizes {params.sizes} --seeds {params.seeds} --evaluate 2> {log}"
