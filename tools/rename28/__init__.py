"""Issue 28's rename scripts: 0.x's public names rewritten to 1.0's, one script a branch."""

from pathlib import Path

# Files that name 0.x's words on purpose, which no script rewrites: measured output as it
# was printed, the migration guides (their first column is the 0.x name) and the test that
# checks the guides against the package.
NAMED_ON_PURPOSE = frozenset(
    {
        Path("benchmarks/RESULTS.md"),
        Path("docs/migrating.md"),
        Path("docs/migrating-models.md"),
        Path("tests/test_readme.py"),
    }
)
