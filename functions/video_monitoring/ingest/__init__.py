"""Counting each generation and app event exactly once although triggers deliver changes at
least once, out of order and concurrently: the pure planning of one change, the rollup arithmetic
and its buckets, the journal that takes one write per change and its fold, the percentile sketch,
the protocol storage implements for it, the service the triggers call to record a change
(service.py), and the nightly audit that repairs missed changes.
Imports core, config and privacy."""
