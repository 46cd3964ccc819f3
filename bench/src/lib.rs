//! Benchmarks live in `benches/` (criterion) and `scripts/` (end-to-end); this library is empty.
