"""The query core and the questions built on it; every API answers through it."""
