"""Prometheus for real: promtool, a real server scraping and receiving remote write."""
