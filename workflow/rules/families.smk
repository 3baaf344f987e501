# The predictor-family study (White et al. 2021; nasrank.families): one job per (table,
# predictor) of params.yaml's `families` section (nasrank.families.jobs.FamilyJob),
# running every seed (their tables and figures: report.smk).


rule families:
    wildcard_constraints:
        family_key=one_of("families"),
    input:
        lambda wc: job_inputs("families", wc.family_key),
    output:
        report=f"{FAMILIES}/{{family_key}}.json",
        timing=f"{FAMILIES}/{{family_key}}.timing.json",
    params:
        cli=NASRANK,
        settings=lambda wc: job_settings("families", wc.family_key),
    conda:
        "../../environment.yml"
    log:
        "logs/families/{family_key}.log",
    threads: 1
    resources:
        mem_mb=lambda wc: 3000 if FAMILY_JOBS[wc.family_key].bench == "nb101" else 1500,
        gpu=lambda wc: family_gpus(FAMILY_JOBS[wc.family_key]),
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} families {wildcards.family_key} 2> {log}"
