# Every table (reports/tables/NAME.{csv,md,tex}) and figure (reports/figures/NAME.{png,pdf})
# of nasrank.report.registry, and the HTML report that embeds them. Figures carry a
# caption for `snakemake --report` (workflow/report/NAME.rst). All of them take seconds,
# so on a cluster they run where Snakemake runs (localrule), not through the queue.


for name in ALL_TABLES:

    rule:
        name:
            f"table_{name}"
        localrule: True
        input:
            table_inputs(config, name),
        output:
            csv=f"{TABLES_DIR}/{name}.csv",
            md=f"{TABLES_DIR}/{name}.md",
            tex=f"{TABLES_DIR}/{name}.tex",
        params:
            cli=NASRANK,
            name=name,
            settings=table_settings(name),
        conda:
            "../../environment.yml"
        log:
            f"logs/table/{name}.log",
        resources:
            mem_mb=1500,
        shell:
            "{params.cli} table {params.name} 2> {log}"


for name in ALL_FIGURES:

    rule:
        name:
            f"figure_{name}"
        localrule: True
        input:
            figure_inputs(config, name),
        output:
            png=report(
                f"{FIGURES}/{name}.png",
                caption=f"../report/{name}.rst",
                category=figure_category(name),
            ),
            pdf=f"{FIGURES}/{name}.pdf",
        params:
            cli=NASRANK,
            name=name,
            settings=figure_settings(name),
        conda:
            "../../environment.yml"
        log:
            f"logs/figure/{name}.log",
        resources:
            mem_mb=2000,
        shell:
            "{params.cli} figure {params.name} 2> {log}"


rule report_html:
    localrule: True
    input:
        report_inputs(config),
    output:
        REPORT_HTML,
    params:
        cli=NASRANK,
    conda:
        "../../environment.yml"
    log:
        "logs/report/index.log",
    resources:
        mem_mb=1000,
    shell:
        "{params.cli} report 2> {log}"
