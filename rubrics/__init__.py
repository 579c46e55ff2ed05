"""The bundled rubric files. This folder ships in the wheel as the package
``polaris_bench.rubrics`` (see pyproject's package-dir), so that
``importlib.resources`` finds the files in an installed copy."""
