# Downloads run where Snakemake runs: cluster compute nodes often have no internet.
rule fetch:
    localrule: True
    output:
        directory(f"{RAW}/{{bench}}"),
    params:
        cli=NASRANK,
    conda:
        "../../environment.yml"
    log:
        "logs/fetch/{bench}.log",
    resources:
        mem_mb=512,
    shell:
        "{params.cli} --quiet fetch {wildcards.bench} 2> {log}"


rule enumerate_nb101:
    output:
        f"{PROCESSED}/spaces/nb101.parquet",
    params:
        cli=NASRANK,
    conda:
        "../../environment.yml"
    log:
        "logs/enumerate/nb101.log",
    # Snakemake lowers this to --cores locally; a cluster job asks for 8 CPUs
    threads: 8
    resources:
        mem_mb=3000,
    shell:
        "{params.cli} enumerate nb101 --workers {threads} 2> {log}"


for bench in BENCHMARKS:

    rule:
        name:
            f"ingest_{bench}"
        input:
            job_inputs(f"ingest_{bench}"),
        output:
            job_outputs(f"ingest_{bench}"),
        params:
            cli=NASRANK,
            bench=bench,
        conda:
            "../../environment.yml"
        log:
            f"logs/ingest/{bench}.log",
        resources:
            mem_mb=4000,
        shell:
            "{params.cli} ingest {params.bench} 2> {log}"


rule stats_nb101:
    input:
        space=f"{PROCESSED}/spaces/nb101.parquet",
        records=f"{PROCESSED}/nb101.parquet",
    output:
        csv=f"{TABLES_DIR}/nb101_space_stats.csv",
        md=f"{TABLES_DIR}/nb101_space_stats.md",
    params:
        cli=NASRANK,
        settings=job_settings("stats_nb101") if "nb101" in BENCHMARKS else {},
        out_dir=lambda wc, output: os.path.dirname(output.csv),
    conda:
        "../../environment.yml"
    log:
        "logs/stats/nb101.log",
    resources:
        mem_mb=2000,
    shell:
        "{params.cli} stats nb101 --out-dir {params.out_dir} 2> {log}"
