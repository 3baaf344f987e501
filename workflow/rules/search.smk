# One rule per search job of params.yaml's `search` section (nasrank.search.runner): a job
# runs one configuration over its seeds, so the features are read once per job.


for job in search_jobs(config):

    rule:
        name:
            f"search_{job.name}"
        input:
            search_inputs(job),
        output:
            job.outputs(SEARCH),
        params:
            cli=NASRANK,
            key=job.key,
            settings=search_settings(job),
        conda:
            "../../environment.yml"
        log:
            f"logs/search/{job.key}.log",
        threads: 1
        resources:
            mem_mb=6000 if job.bench == "nb101" else 3000,
            gpu=GPUS if job.predictor is not None else 0,
        shell:
            "OMP_NUM_THREADS={threads} {params.cli} search {params.key} 2> {log}"


for name in SEARCH_TABLES:

    rule:
        name:
            f"table_{name}"
        input:
            [f for job in table_jobs(config, name) for f in job.outputs(SEARCH)],
        output:
            csv=f"{TABLES_DIR}/{name}.csv",
            md=f"{TABLES_DIR}/{name}.md",
        params:
            cli=NASRANK,
            name=name,
        conda:
            "../../environment.yml"
        log:
            f"logs/table/{name}.log",
        resources:
            mem_mb=1000,
        shell:
            "{params.cli} table {params.name} 2> {log}"
