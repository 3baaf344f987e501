RUN = "{table}/{encoding}/{predictor}/{loss}/n{size}/s{seed}"


wildcard_constraints:
    table=r"[a-z0-9_]+(-[a-z0-9_]+)?",
    encoding=r"[a-z0-9_]+",
    predictor=r"[a-z0-9_]+",
    loss=r"[a-z0-9_]+",
    size=r"\d+",
    seed=r"\d+",


rule train:
    input:
        labels=f"{PROCESSED}/{{table}}.parquet",
        features=lambda wc: f"{FEATURES}/{wc.table.split('-')[0]}/{wc.encoding}.parquet",
    output:
        predictions=f"{MODELS}/{RUN}/predictions.parquet",
        model=f"{MODELS}/{RUN}/model.bin",
        config=f"{MODELS}/{RUN}/config.json",
        history=f"{MODELS}/{RUN}/log.csv",
        timing=f"{MODELS}/{RUN}/timing.json",
    params:
        cli=NASRANK,
        settings=lambda wc: train_settings(wc.predictor, wc.loss),
    conda:
        "../../environment.yml"
    log:
        f"logs/train/{RUN}.log",
    threads: 1
    resources:
        mem_mb=lambda wc: 6000 if wc.table.startswith("nb101") else 3000,
        gpu=GPUS,
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} train {wildcards.table} {wildcards.encoding} "
        "{wildcards.predictor} {wildcards.loss} --train-size {wildcards.size} "
        "--seed {wildcards.seed} 2> {log}"


rule evaluate:
    input:
        f"{MODELS}/{RUN}/predictions.parquet",
    output:
        f"{METRICS}/{RUN}.json",
    params:
        cli=NASRANK,
        evaluation=config["evaluation"],
    conda:
        "../../environment.yml"
    log:
        f"logs/evaluate/{RUN}.log",
    resources:
        mem_mb=2000,
    shell:
        "{params.cli} evaluate {wildcards.table} {wildcards.encoding} {wildcards.predictor} "
        "{wildcards.loss} --train-size {wildcards.size} --seed {wildcards.seed} 2> {log}"
