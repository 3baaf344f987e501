# The predictor-family study (White et al. 2021; nasrank.families): one rule per
# (table, predictor) job of params.yaml's `families` section, running every trial, then
# the tables and figures that read the jobs' reports.


for job in family_jobs(config):

    rule:
        name:
            f"families_{job.name}"
        input:
            family_inputs(job),
        output:
            report=job.output(FAMILIES),
            timing=job.timing_output(FAMILIES),
        params:
            cli=NASRANK,
            key=job.key,
            settings=family_settings(job),
        conda:
            "../../environment.yml"
        log:
            f"logs/families/{job.key}.log",
        threads: 1
        resources:
            mem_mb=3000 if job.bench == "nb101" else 1500,
            gpu=GPUS if job.family == "model_based" and job.predictor in TORCH_PREDICTORS else 0,
        shell:
            "OMP_NUM_THREADS={threads} {params.cli} families {params.key} 2> {log}"


for name in FAMILY_TABLES:

    rule:
        name:
            f"table_{name}"
        input:
            family_table_inputs(config, name),
        output:
            csv=f"{TABLES_DIR}/{name}.csv",
            md=f"{TABLES_DIR}/{name}.md",
        params:
            cli=NASRANK,
            name=name,
            settings=config["families"]["zero_cost"] if name == "zero_cost" else {},
        conda:
            "../../environment.yml"
        log:
            f"logs/table/{name}.log",
        resources:
            mem_mb=1500,
        shell:
            "{params.cli} table {params.name} 2> {log}"


for name in FAMILY_FIGURES:

    rule:
        name:
            f"figure_{name}"
        input:
            family_table_inputs(config, name),
        output:
            f"{FIGURES}/{name}.png",
        params:
            cli=NASRANK,
            name=name,
            tables=config["families"]["init_time_tables"],
        conda:
            "../../environment.yml"
        log:
            f"logs/figure/{name}.log",
        resources:
            mem_mb=1500,
        shell:
            "{params.cli} figure {params.name} 2> {log}"
