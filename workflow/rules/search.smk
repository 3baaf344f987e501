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
