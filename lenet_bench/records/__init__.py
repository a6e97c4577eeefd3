"""Run files read and judged: results as DataFrames, analysis, statistics, the race rule.

The layer below the study and the trainers: it reads what they wrote and decides what
it means, and imports no deep-learning framework, so a report rebuilds anywhere.
"""
