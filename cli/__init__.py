"""gputel command line."""
