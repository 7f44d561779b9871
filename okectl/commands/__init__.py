"""The commands as typed functions: each takes a workspace (and its options) and returns a
typed result, for the command line to render and map to an exit code, and for tests to
call directly. A command composes the core's steps; it prints nothing, asks nothing
(what it must ask goes through a view it is given), never exits and never handles a
signal.

Commands that are a single step of the core are that step's own function: import
(``engine.importer.import_supplier``), releases (``gitops.releases.collect_releases``),
report (``gitops.report.build_report``), diff (``gitops.diff.diff_refs``) and bump
(``gitops.bump.bump``).
"""
