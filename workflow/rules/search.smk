# Searches: one job per search configuration of params.yaml's `search` section
# (nasrank.search.jobs.SearchJob), running all its seeds; its output is the directory
# reports/search/<key>/ with one report per seed.


rule search:
    wildcard_constraints:
        search_key=one_of("search"),
    input:
        lambda wc: job_inputs("search", wc.search_key),
    output:
        directory(f"{SEARCH}/{{search_key}}"),
    params:
        cli=NASRANK,
        settings=lambda wc: job_settings("search", wc.search_key),
    conda:
        "../../environment.yml"
    log:
        "logs/search/{search_key}.log",
    threads: 1
    resources:
        mem_mb=lambda wc: 6000 if SEARCHES[wc.search_key].bench == "nb101" else 3000,
        gpu=lambda wc: GPUS if SEARCHES[wc.search_key].predictor is not None else 0,
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} search {wildcards.search_key} 2> {log}"


# White et al.'s predictor-based NAS (params.yaml's search.predictor_nas_by_predictor):
# the same command, a rule of its own so that DVC renders its many jobs as one foreach
# stage (predictor_search@<table>-<loop>-<encoding>-<predictor>-<loss>).
rule predictor_search:
    wildcard_constraints:
        search_key=one_of("predictor_search"),
    input:
        lambda wc: job_inputs("predictor_search", wc.search_key),
    output:
        directory(f"{SEARCH}/{{search_key}}"),
    params:
        cli=NASRANK,
        settings=lambda wc: job_settings("predictor_search", wc.search_key),
    conda:
        "../../environment.yml"
    log:
        "logs/search/{search_key}.log",
    threads: 1
    resources:
        mem_mb=lambda wc: 6000 if SEARCHES[wc.search_key].bench == "nb101" else 3000,
        gpu=lambda wc: GPUS if SEARCHES[wc.search_key].predictor in TORCH_PREDICTORS else 0,
    shell:
        "OMP_NUM_THREADS={threads} {params.cli} search {wildcards.search_key} 2> {log}"
