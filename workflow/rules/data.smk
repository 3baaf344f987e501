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
            raw=f"{RAW}/{bench}",
            space=[f"{PROCESSED}/spaces/nb101.parquet"] if bench == "nb101" else [],
        output:
            processed_files(bench),
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
        csv="reports/tables/nb101_space_stats.csv",
        md="reports/tables/nb101_space_stats.md",
    params:
        cli=NASRANK,
        target=config["stats"]["nb101"]["target"],
    conda:
        "../../environment.yml"
    log:
        "logs/stats/nb101.log",
    resources:
        mem_mb=2000,
    shell:
        "{params.cli} stats nb101 --out-dir reports/tables 2> {log}"
