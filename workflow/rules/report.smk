# Every table (reports/tables/NAME.{csv,md,tex}) and figure (reports/figures/NAME.{png,pdf})
# of nasrank.catalog, and the HTML report that embeds them. Figures carry a
# caption for `snakemake --report` (workflow/report/NAME.rst, shown through figure.rst).
# All of them take seconds, so on a cluster they run where Snakemake runs (localrule),
# not through the queue.


rule table:
    localrule: True
    wildcard_constraints:
        table_name=one_of("table"),
    input:
        lambda wc: job_inputs("table", wc.table_name),
    output:
        csv=f"{TABLES_DIR}/{{table_name}}.csv",
        md=f"{TABLES_DIR}/{{table_name}}.md",
        tex=f"{TABLES_DIR}/{{table_name}}.tex",
    params:
        cli=NASRANK,
        settings=lambda wc: job_settings("table", wc.table_name),
    conda:
        "../../environment.yml"
    log:
        "logs/table/{table_name}.log",
    resources:
        mem_mb=1500,
    shell:
        "{params.cli} table {wildcards.table_name} 2> {log}"


rule figure:
    localrule: True
    wildcard_constraints:
        figure_name=one_of("figure"),
    input:
        lambda wc: job_inputs("figure", wc.figure_name),
    output:
        png=report(
            f"{FIGURES}/{{figure_name}}.png",
            caption="../report/figure.rst",
            category=lambda wc: figure_category(wc.figure_name),
        ),
        pdf=f"{FIGURES}/{{figure_name}}.pdf",
    params:
        cli=NASRANK,
        settings=lambda wc: job_settings("figure", wc.figure_name),
        caption=lambda wc: figure_caption(wc.figure_name),
    conda:
        "../../environment.yml"
    log:
        "logs/figure/{figure_name}.log",
    resources:
        mem_mb=2000,
    shell:
        "{params.cli} figure {wildcards.figure_name} 2> {log}"


rule report_html:
    localrule: True
    input:
        job_inputs("report_html"),
    output:
        job_outputs("report_html"),
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
