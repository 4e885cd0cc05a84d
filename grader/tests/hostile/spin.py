#!/usr/bin/env python3
"""Never prints the readiness line; burns CPU."""
while True:
    pass
