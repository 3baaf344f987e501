rule encode:
    input:
        lambda wc: job_inputs("encode", f"{wc.bench}/{wc.encoding}"),
    output:
        f"{FEATURES}/{{bench}}/{{encoding}}.parquet",
    params:
        cli=NASRANK,
        settings=lambda wc: job_settings("encode", f"{wc.bench}/{wc.encoding}"),
    conda:
        "../../environment.yml"
    log:
        "logs/encode/{bench}/{encoding}.log",
    resources:
        mem_mb=4000,
    shell:
        "{params.cli} encode {wildcards.bench} {wildcards.encoding} 2> {log}"


rule check_nb101_params:
    input:
        raw=f"{RAW}/nb101",
        space=f"{PROCESSED}/spaces/nb101.parquet",
        records=f"{PROCESSED}/nb101.parquet",
    output:
        "reports/checks/nb101_params.json",
    params:
        cli=NASRANK,
    conda:
        "../../environment.yml"
    log:
        "logs/check/nb101_params.log",
    resources:
        mem_mb=3000,
    shell:
        "{params.cli} check nb101_params --out-dir reports/checks 2> {log}"
