"""`python -m activitylog` is the `activitylog` command."""

from activitylog.cli import main

main()
