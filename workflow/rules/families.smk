# The predictor-family study (White et al. 2021; nasrank.families): one rule per
# (table, predictor) job of params.yaml's `families` section, running every trial (their
# tables and figures: report.smk).


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
