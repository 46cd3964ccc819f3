//! dvsm: the manager (being built).
