"""Command-line tools around the project: plots of training runs, rendered skeleton clips."""
