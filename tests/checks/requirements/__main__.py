"""Print the rows of the requirement tables per chapter."""

from tests.checks.requirements import main

main()
