//! Shared helpers for the end-to-end tests (network namespaces, processes, raw frames).
